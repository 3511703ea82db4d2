"""Evidence and reporting: significance markers, results tables, training curves, loss landscapes
and the update-direction discrepancy probe. Import the submodules (torch is needed only by
`landscape` and `discrepancy`)."""
