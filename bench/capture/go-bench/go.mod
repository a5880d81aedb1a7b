module agentsight.bench/gobench

go 1.19
