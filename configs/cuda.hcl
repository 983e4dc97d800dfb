# Frames on the GPU from host to plugin (docs/CUDA.md). Needs lsie-host built
# with -tags cuda (make cuda-check puts one in bin/cuda/) on a machine with
# the NVIDIA driver, and plugins that take video in CUDA memory, such as
# examples/gpustat (bin/cuda/plugins):
#
#   bin/cuda/lsie-host --plugins bin/cuda/plugins --config configs/cuda.hcl
#
# Other builds refuse these streams before anything starts: "built without
# CUDA". Every field is documented in example.hcl.

segment {
  duration = "2s"
}

stream "gpu-pattern" {
  source   = "test://ball?width=1920&height=1080&fps=30"
  realtime = true
  video {
    fps       = 30
    max_width = 1920
    memory    = "cuda"
  }
  # Mean luma of each NV12 frame by a CUDA kernel, next to the CPU's.
  plugin "gpustat" {}
  # A 64x64 model input (video.rgbf32.cuda), made on the GPU once per frame.
  plugin "tensor64" {}
}
