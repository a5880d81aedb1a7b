module agentsight.test/goclient

go 1.19
