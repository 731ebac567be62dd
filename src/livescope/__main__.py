from livescope.cli import main

raise SystemExit(main())
