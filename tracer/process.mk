# process monitor extension (issue 4)
