from openucwa.cli import main

main()
