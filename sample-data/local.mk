# sample-data
