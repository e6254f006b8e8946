from kuznia.cli import main

main()
