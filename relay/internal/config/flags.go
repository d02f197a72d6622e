//go:build !js

package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// ErrHelp is returned by Parse when -h or --help was asked for; the usage has
// already been written.
var ErrHelp = flag.ErrHelp

// parseFlags reads the options given as flags in args: their raw text by
// name, and which were given. Without arguments no flag is given.
func parseFlags(args []string, opts []option, usage io.Writer) (raw map[string]*string, given map[string]bool, err error) {
	raw = make(map[string]*string, len(opts))
	given = map[string]bool{}
	if len(args) == 0 {
		return raw, given, nil
	}
	fs := flag.NewFlagSet("kefu serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, o := range opts {
		v := new(string)
		raw[o.name] = v
		if o.def == "true" || o.def == "false" {
			// A switch: --repair alone means --repair=true, as people type it.
			fs.Var(boolFlag{v}, o.name, o.usage)
			continue
		}
		fs.StringVar(v, o.name, "", o.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			WriteUsage(usage)
			return nil, nil, ErrHelp
		}
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return raw, given, nil
}

// boolFlag keeps a switch's raw text, validated later like every option,
// and lets it be given without a value.
type boolFlag struct{ v *string }

func (b boolFlag) String() string {
	if b.v == nil {
		return ""
	}
	return *b.v
}
func (b boolFlag) Set(s string) error { *b.v = s; return nil }
func (b boolFlag) IsBoolFlag() bool   { return true }
