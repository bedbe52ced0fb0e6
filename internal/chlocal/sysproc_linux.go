package chlocal

import "syscall"

// sysProcAttr puts the server in its own process group (so Ctrl-C in a
// terminal reaches only kuzet, which stops it in order) and has the kernel
// kill it when the parent thread dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
