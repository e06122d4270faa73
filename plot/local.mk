# plot
