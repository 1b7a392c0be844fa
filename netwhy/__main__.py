from netwhy.cli import main

raise SystemExit(main())
