from veorelay.cli.main import main

main()
