package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Machine is what the report says about where it ran.
type Machine struct {
	CPU       string  `json:"cpu"`
	Cores     int     `json:"cores"`
	MemGiB    float64 `json:"mem_gib"`
	Kernel    string  `json:"kernel"`
	Go        string  `json:"go"`
	Node      string  `json:"node"`
	Chromium  string  `json:"chromium"`
	Commit    string  `json:"commit"`
	KefuVer   string  `json:"kefu_version"`
	FileLimit uint64  `json:"file_limit"`
	LoadStart string  `json:"load_start"`
	Disk      string  `json:"disk"`
}

func machineFacts(ctx context.Context, cfg config) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		m.MemGiB = float64(si.Totalram) * float64(si.Unit) / (1 << 30)
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		m.FileLimit = rl.Max
	}
	m.Kernel = cmdOut(ctx, "uname", "-sr")
	m.Node = cmdOut(ctx, "node", "--version")
	m.Chromium = cmdOut(ctx, "/usr/bin/chromium", "--version")
	if i := strings.LastIndex(m.Chromium, "\n"); i >= 0 {
		m.Chromium = m.Chromium[i+1:]
	}
	m.Commit = cmdOut(ctx, "git", "describe", "--always", "--dirty")
	m.KefuVer = cmdOut(ctx, cfg.Kefu, "version")
	m.Disk = cmdOut(ctx, "sh", "-c", "df -T "+cfg.Work+" | awk 'NR==2{print $2\" on \"$1}'")
	return m
}

func cmdOut(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
