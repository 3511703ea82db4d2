from peftir.cli import main

raise SystemExit(main())
