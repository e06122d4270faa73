# bench
EXTRA_DIST += bench/analysers.sh
