module github.com/lsie-mlf/lsie/shm/cuda

go 1.26.0

require (
	github.com/lsie-mlf/lsie/shm v1.0.0
	gorgonia.org/cu v0.9.6
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
