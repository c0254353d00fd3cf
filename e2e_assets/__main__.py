from e2e_assets.cli import program

program()
