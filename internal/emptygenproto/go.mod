// An empty stand-in for the 2020 monolithic google.golang.org/genproto that
// gorgonia.org/cu's old dependency tree (gorgonia, arrow) names. That module
// also holds googleapis/rpc packages that grpc imports from their own module
// today, so once it is in the module cache every build stops with an
// "ambiguous import". No code of ours needs it; go.work replaces it with
// this. docs/PLUGIN_SDK.md "CUDA plugins" gives plugin authors the same line.
module google.golang.org/genproto

go 1.26.0
