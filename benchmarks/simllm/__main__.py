from .endpoint import main

main()
