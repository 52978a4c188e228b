// Sample ledgers and policies as tests: written by another helper.
