# Bats tests, one file per tool
