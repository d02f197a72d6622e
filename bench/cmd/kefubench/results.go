package main

import (
	"time"

	"github.com/kefuhq/kefu/bench/internal/hist"
)

// Results is everything one run measured; results.json is this value.
type Results struct {
	Machine  Machine   `json:"machine"`
	Quick    bool      `json:"quick"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	LoadEnd  string    `json:"load_end"`
	Commands []string  `json:"server_commands"`
	Timings  []Timing  `json:"timings"`
	Failures []string  `json:"failures,omitempty"`
	Profiles []Profile `json:"profiles"`

	Capacity  []Capacity   `json:"capacity"`
	Chat      Chat         `json:"chat"`
	Durable   []Durable    `json:"durable"`
	Floor     []BoltFloor  `json:"bolt_floor"`
	AI        AI           `json:"ai"`
	Widget    Widget       `json:"widget"`
	ModelLoad ModelLoad    `json:"model_load"`
	Search    Search       `json:"search"`
	Soak      []SoakSample `json:"soak,omitempty"`
}

// Elapsed is the run's wall time so far.
func (r *Results) Elapsed() time.Duration {
	if r.Finished.IsZero() {
		return time.Since(r.Started).Round(time.Second)
	}
	return r.Finished.Sub(r.Started).Round(time.Second)
}

type Timing struct {
	Scenario string  `json:"scenario"`
	Seconds  float64 `json:"seconds"`
}

type Profile struct {
	File    string `json:"file"`
	Server  string `json:"server"`
	Kind    string `json:"kind"`
	Seconds int    `json:"seconds,omitempty"`
	Top     string `json:"top,omitempty"` // go tool pprof -top, first lines
}

// Capacity is one server holding idle visitor sessions.
type Capacity struct {
	Server          string       `json:"server"`
	Wanted          int          `json:"wanted"`
	Opened          int          `json:"opened"`
	Failed          int          `json:"failed"`
	FirstErr        string       `json:"first_error,omitempty"`
	Generators      int          `json:"generators"`
	ConnectS        float64      `json:"connect_s"`
	ConnectPerS     float64      `json:"connect_per_s"`
	ConnectLatency  hist.Summary `json:"connect_latency"`
	RSSBefore       int64        `json:"rss_before"`
	RSSAfter        int64        `json:"rss_after"`
	RSSAnonAfter    int64        `json:"rss_anon_after"`
	RSSPerSession   float64      `json:"rss_per_session"`
	HeapPerSession  float64      `json:"heap_per_session"`
	StackPerSession float64      `json:"stack_per_session"`
	AnonPerSession  float64      `json:"rss_anon_per_session"`
	FilePerSession  float64      `json:"rss_file_per_session"`
	// What the Go runtime says at the end, per session: the heap's live
	// bytes after a forced GC, and the bytes it freed but keeps (heap
	// idle, not returned to the kernel) before that GC: GC headroom,
	// part of RSS that no heap profile shows.
	LivePerSession float64 `json:"heap_live_per_session"`
	FreePerSession float64 `json:"heap_free_kept_per_session"`
	NumGC          int64   `json:"gc_cycles_while_connecting"`
	AllocPerConn   float64 `json:"alloc_bytes_per_connect"`
	GoroutinesPer  float64 `json:"goroutines_per_session"`
	OpenFDs        int     `json:"open_fds"`
	IdleS          float64 `json:"idle_s"`
	IdleCPU        float64 `json:"idle_cpu_cores"`
	PingsInIdle    int64   `json:"pings_in_idle"`
	StillOpen      int     `json:"still_open"`
}

// Chat is the chat-traffic scenario for every server.
type Chat struct {
	Receive     string       `json:"receive"` // agent or visitor
	ReceiveNote string       `json:"receive_note"`
	Convs       int          `json:"conversations"`
	PerAgent    int          `json:"conversations_per_agent,omitempty"`
	Generators  int          `json:"generators"`
	StepS       float64      `json:"step_s"`
	WarmS       float64      `json:"warm_s"`
	TextBytes   int          `json:"text_bytes"`
	Servers     []ChatServer `json:"servers"`
}

type ChatServer struct {
	Server string     `json:"server"`
	Steps  []ChatStep `json:"steps"`
	Knee   float64    `json:"knee_rate"` // highest offered rate with delivery p99 ≤ 50 ms and nothing lost
	// Profiled is the step at the target rate run apart from the ramp,
	// with CPU and allocation profiles taken.
	Profiled *ChatStep `json:"profiled_step,omitempty"`
	Setup    string    `json:"setup,omitempty"`
}

type ChatStep struct {
	Offered         float64        `json:"offered_per_s"`
	Sent            int64          `json:"sent"`
	AckedPerS       float64        `json:"acked_per_s"`
	Missing         int64          `json:"missing"` // measured messages not delivered by the end of the drain
	Errors          int64          `json:"errors"`
	ErrCodes        map[string]int `json:"error_codes,omitempty"`
	Deliver         hist.Summary   `json:"deliver"`
	Ack             hist.Summary   `json:"ack"`
	SendLag         hist.Summary   `json:"send_lag"`
	RelayCPU        float64        `json:"relay_cpu_cores"`
	GenCPU          float64        `json:"generator_cpu_cores"`
	CommitsPerS     float64        `json:"commits_per_s"`
	WritesPerCommit float64        `json:"writes_per_commit"`
	ConvFramesPerS  float64        `json:"conversation_frames_per_s,omitempty"`
	MsPerCommit     float64        `json:"ms_per_commit"`
	DrainS          float64        `json:"drain_s"`
	Load            string         `json:"load_avg"`         // at the end of the step: other work on the box
	OthersCPU       float64        `json:"others_cpu_cores"` // CPU used on the box by neither the relay nor the generators
	Repeat          bool           `json:"repeat,omitempty"` // the second attempt at this rate
	RSS             int64          `json:"rss"`
}

// Durable is the closed-loop saturation of one server.
type Durable struct {
	Server          string       `json:"server"`
	Window          int          `json:"window_per_visitor"`
	Visitors        int          `json:"visitors"`
	MsgsPerS        float64      `json:"acked_per_s"`
	CommitsPerS     float64      `json:"commits_per_s"`
	WritesPerCommit float64      `json:"writes_per_commit"`
	MsPerCommit     float64      `json:"ms_per_commit"`
	Load            string       `json:"load_avg"`
	OthersCPU       float64      `json:"others_cpu_cores"`
	Ack             hist.Summary `json:"ack"`
	Deliver         hist.Summary `json:"deliver"`
	RelayCPU        float64      `json:"relay_cpu_cores"`
	GenCPU          float64      `json:"generator_cpu_cores"`
	Errors          int64        `json:"errors"`
}

// AI is the streaming scenario.
type AI struct {
	ChunkDelayMS int     `json:"chunk_delay_ms"`
	ChunksPerAns int     `json:"chunks_per_answer"`
	Runs         []AIRun `json:"runs"`
	Note         string  `json:"note,omitempty"`
}

type AIRun struct {
	Path        string       `json:"path"` // direct, kefu, or bare (the floor: bench/cmd/bare --ai-upstream, pinned runs)
	Streams     int          `json:"streams"`
	Concurrent  int          `json:"concurrent"`
	Completes   int64        `json:"completes"`
	Incompletes int64        `json:"incompletes"`
	Handoffs    int64        `json:"handoffs"`
	Errors      int64        `json:"errors"`
	Chunks      int64        `json:"chunks"`
	Chunk       hist.Summary `json:"chunk_lag"`
	Mid         hist.Summary `json:"chunk_lag_mid"` // each answer's chunks but its first 5 and last 8
	First       hist.Summary `json:"first_chunk_lag"`
	TTFT        hist.Summary `json:"time_to_first_delta"`
	RelayCPU    float64      `json:"relay_cpu_cores,omitempty"` // while every stream is open
	FakeCPU     float64      `json:"fake_cpu_cores"`
	GenCPU      float64      `json:"generator_cpu_cores"`
	OthersCPU   float64      `json:"others_cpu_cores"`
	ElapsedS    float64      `json:"elapsed_s"`
	// RelayUSPerChunk is the relay's CPU time (user + system) over the
	// whole run, answer starts included, per chunk delivered.
	RelayUSPerChunk float64 `json:"relay_us_per_chunk,omitempty"`
	// FakeUSPerChunk is the fake upstream's, the same way.
	FakeUSPerChunk float64 `json:"fake_us_per_chunk,omitempty"`
	// RelayUSPerAnswer is the relay's CPU time over the whole run per
	// answer completed.
	RelayUSPerAnswer float64 `json:"relay_us_per_answer,omitempty"`
	// Short marks the short-answer level: the fake answers aiShortText,
	// two chunks, so the relay's work is the answers' start and end.
	Short bool `json:"short_answer,omitempty"`
	// Pinned, when set, says which CPUs the relay and the load ran on.
	Pinned string `json:"pinned,omitempty"`
	// ChunkDelayMS is the fake's interval between chunks when it is not
	// AI.ChunkDelayMS (the pinned sweep's runs).
	ChunkDelayMS int `json:"chunk_delay_ms,omitempty"`
	// RoundsP99MS is each round's per-chunk lag p99 when the row pools
	// several rounds (the shared 100-stream level): the row's figures are
	// over all their chunks.
	RoundsP99MS []float64 `json:"rounds_p99_ms,omitempty"`

	hists *aiHists // the row's histograms, to pool rounds (not stored)
}

// aiHists are a run's latency histograms.
type aiHists struct{ chunk, mid, first, ttft *hist.H }

// pool adds round o to r: counts add up, the histograms merge, the CPU
// shares average over the rounds and the CPU per chunk is over all their
// chunks.
func (r *AIRun) pool(o AIRun) {
	if r.hists == nil {
		*r = o
		r.RoundsP99MS = []float64{o.Chunk.P99M}
		return
	}
	n := float64(len(r.RoundsP99MS))
	avg := func(a, b float64) float64 { return (a*n + b) / (n + 1) }
	perChunk := func(a, b float64) float64 {
		if r.Chunks+o.Chunks == 0 {
			return 0
		}
		return (a*float64(r.Chunks) + b*float64(o.Chunks)) / float64(r.Chunks+o.Chunks)
	}
	r.RelayUSPerChunk, r.FakeUSPerChunk = perChunk(r.RelayUSPerChunk, o.RelayUSPerChunk), perChunk(r.FakeUSPerChunk, o.FakeUSPerChunk)
	if r.Completes+o.Completes > 0 {
		r.RelayUSPerAnswer = (r.RelayUSPerAnswer*float64(r.Completes) + o.RelayUSPerAnswer*float64(o.Completes)) / float64(r.Completes+o.Completes)
	}
	r.RelayCPU, r.FakeCPU, r.GenCPU, r.OthersCPU = avg(r.RelayCPU, o.RelayCPU), avg(r.FakeCPU, o.FakeCPU), avg(r.GenCPU, o.GenCPU), avg(r.OthersCPU, o.OthersCPU)
	r.Completes += o.Completes
	r.Incompletes += o.Incompletes
	r.Handoffs += o.Handoffs
	r.Errors += o.Errors
	r.Chunks += o.Chunks
	r.ElapsedS = max(r.ElapsedS, o.ElapsedS)
	r.hists.chunk.Merge(o.hists.chunk)
	r.hists.mid.Merge(o.hists.mid)
	r.hists.first.Merge(o.hists.first)
	r.hists.ttft.Merge(o.hists.ttft)
	r.Chunk, r.Mid, r.First, r.TTFT = r.hists.chunk.Summarize(), r.hists.mid.Summarize(), r.hists.first.Summarize(), r.hists.ttft.Summarize()
	r.RoundsP99MS = append(r.RoundsP99MS, o.Chunk.P99M)
}

// Widget is the browser-side scenario.
type Widget struct {
	Files      []FileSize    `json:"files"`
	Classify   []ClassifyRun `json:"classify"`
	Paint      []PaintSet    `json:"paint"`
	PaintNote  string        `json:"paint_note,omitempty"`
	ModelBytes int           `json:"model_bytes"`
	Intents    int           `json:"intents"`
	PerIntent  int           `json:"examples_per_intent,omitempty"` // 0: all of the train split
	FitS       float64       `json:"fit_s"`
}

type FileSize struct {
	Name    string `json:"name"`
	Present bool   `json:"present"`
	Raw     int    `json:"raw"`
	Gzip    int    `json:"gzip"`
	Brotli  int    `json:"brotli"`
	Served  string `json:"served,omitempty"` // what the relay sends for Accept-Encoding: br, gzip
}

type ClassifyRun struct {
	Where    string  `json:"where"` // wasm in Node, native Go
	Queries  int     `json:"queries"`
	MeanUS   float64 `json:"mean_us"`
	P50US    float64 `json:"p50_us"`
	P99US    float64 `json:"p99_us"`
	MaxUS    float64 `json:"max_us"`
	StartMS  float64 `json:"startup_ms,omitempty"` // instantiate + loadModel
	Accuracy float64 `json:"accuracy"`
}

type PaintSet struct {
	Variant   string    `json:"variant"` // without, with
	Runs      int       `json:"runs"`
	FP        []float64 `json:"first_paint_ms"`
	FCP       []float64 `json:"first_contentful_paint_ms"`
	TBT       []float64 `json:"total_blocking_time_ms"`
	Load      []float64 `json:"load_ms"`
	LongTasks []int     `json:"long_tasks"`
	WidgetReq []int     `json:"widget_requests"`
	Resources []string  `json:"widget_resources,omitempty"` // of the last run
	Launcher  []float64 `json:"launcher_ms,omitempty"`
}
