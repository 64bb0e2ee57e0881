-- wrk script for the ceilings: plain GETs of the given URL, reported like the scenarios.
dofile("bench/report.lua")
