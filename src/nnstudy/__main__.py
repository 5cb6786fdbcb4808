"""`python -m nnstudy ...`: the command line, as the `nnstudy` command runs it."""

from nnstudy.cli import main

if __name__ == "__main__":
    main()
