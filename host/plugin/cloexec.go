package plugin

import (
	"os"
	"strconv"
	"syscall"
)

// markCloseOnExec sets close-on-exec on every descriptor of the host from 3
// up before a plugin starts. Go opens its files close-on-exec, but C
// libraries in the host (GStreamer's demuxers and network sources) may
// not: a restarted plugin then held the host's open media file and source
// sockets (found by cmd/soak, docs/DURABILITY.md). A descriptor a C thread
// opens between this sweep and the fork can still leak; the plugin's own
// descriptors are passed explicitly (os/exec duplicates them for the child).
func markCloseOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return // not Linux: nothing to sweep
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
