package main

import (
	"strings"
	"testing"
)

// The want values were computed outside Go, from the encoding written out
// by hand, e.g. for "minimal":
//
//	printf '\x00\x00\x00\x13kefu-fingerprint-v1\x00\x00\x00\x01a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x030x0' | sha256sum
func TestFingerprintKnownVectors(t *testing.T) {
	tests := []struct {
		name string
		in   Signals
		want string
	}{
		{
			name: "desktop",
			in:   Signals{VisitorID: "v-123", UserAgent: "Mozilla/5.0", Language: "en-US", TimeZone: "Europe/Paris", ScreenWidth: 1920, ScreenHeight: 1080},
			want: "8021ca51c272d6944937cfcefb915ea52b54ff495f5543ab1addb98be993283f",
		},
		{
			name: "minimal",
			in:   Signals{VisitorID: "a"},
			want: "df43e63b5f7652cfe97f3c84d5e1cfabb084e3fa55c0cf4b0d90520bf018ed3a",
		},
		{
			name: "shift ab|c",
			in:   Signals{VisitorID: "ab", UserAgent: "c"},
			want: "fb6ca3906274052504c36edfa93ae8de28e75999d35d74264af1efaf02c86a5d",
		},
		{
			name: "shift a|bc",
			in:   Signals{VisitorID: "a", UserAgent: "bc"},
			want: "9a87b381f1c15201817d960c69d4c1c57c99b6a9f606f8e614acbf5f76fa096b",
		},
		{
			name: "unicode phone",
			in:   Signals{VisitorID: "访客", Language: "zh-CN", TimeZone: "Asia/Shanghai", ScreenWidth: 414, ScreenHeight: 896},
			want: "b496c45a203daf798cc7f2814f8c6cc12430c8798d48ebb737087ca687c865be",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fingerprint(tt.in)
			if err != nil {
				t.Fatalf("fingerprint: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFingerprintStableWithinBucket(t *testing.T) {
	a, _ := fingerprint(Signals{VisitorID: "x", ScreenWidth: 1920, ScreenHeight: 1080})
	b, _ := fingerprint(Signals{VisitorID: "x", ScreenWidth: 1850, ScreenHeight: 1010})
	c, _ := fingerprint(Signals{VisitorID: "x", ScreenWidth: 1280, ScreenHeight: 720})
	if a != b {
		t.Errorf("same bucket: got %s and %s, want equal", a, b)
	}
	if a == c {
		t.Errorf("different buckets: got equal hashes %s", a)
	}
}

func TestFingerprintRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      Signals
		wantErr string
	}{
		{name: "no visitor id", in: Signals{UserAgent: "x"}, wantErr: "visitorId is required"},
		{name: "blank visitor id", in: Signals{VisitorID: "  "}, wantErr: "visitorId is required"},
		{name: "negative screen", in: Signals{VisitorID: "a", ScreenWidth: -1}, wantErr: "negative"},
		{name: "huge user agent", in: Signals{VisitorID: "a", UserAgent: strings.Repeat("x", maxSignalLen+1)}, wantErr: "userAgent is 513 bytes"},
		{name: "bad utf8", in: Signals{VisitorID: "a\xff"}, wantErr: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fingerprint(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
