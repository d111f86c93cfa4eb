from deepdojo.cli import main

main()
