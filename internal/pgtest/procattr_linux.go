package pgtest

import "syscall"

// procAttr runs a child as cred (nil: as this process) and kills it if this
// process dies first, so a test binary that panics or times out never
// leaves a server behind.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
