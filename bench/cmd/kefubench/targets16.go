package main

import "fmt"

// storeTargets are issue 16's targets for chat traffic and durable
// throughput: each a ratio to bare+bbolt (the bare relay with the smallest
// bbolt group commit) measured in the same run.
func (b *bench) storeTargets() []target {
	var t []target
	add := func(what, got string, met bool) { t = append(t, target{what, got, met}) }
	kd, bd := b.durOf(kindKefu), b.durOf(kindBareDurable)
	if kd != nil && bd != nil && bd.MsgsPerS > 0 {
		r := kd.MsgsPerS / bd.MsgsPerS
		add("durable saturation ≥ 1.0× bare+bbolt (issue 16)", fmt.Sprintf("%s against %s msg/s, %.2f×", num(kd.MsgsPerS), num(bd.MsgsPerS), r), r >= 1)
		if kd.RelayCPU > 0 && bd.RelayCPU > 0 && kd.MsgsPerS > 0 {
			k, bb := 1e6*kd.RelayCPU/kd.MsgsPerS, 1e6*bd.RelayCPU/bd.MsgsPerS
			add("relay CPU per 1 000 acked messages ≤ 1.3× bare+bbolt, at saturation (issue 16)", fmt.Sprintf("%.1f against %.1f ms, %.2f×", k, bb, k/bb), k/bb <= 1.3)
		}
	}
	if kc, bc := b.chatOf(kindKefu), b.chatOf(kindBareDurable); kc != nil && bc != nil && len(bc.Steps) > 1 {
		// One step is no ramp: bare+bbolt ran only the target rate.
		got := fmt.Sprintf("%s against %s", knee(kc.Knee), knee(bc.Knee))
		if bc.Knee > 0 {
			got += fmt.Sprintf(", %.2f×", kc.Knee/bc.Knee)
		}
		add("chat knee ≥ 1.0× bare+bbolt's knee (issue 16)", got, kc.Knee >= bc.Knee && kc.Knee > 0)
	}
	for _, c := range []struct {
		rate, limit float64
	}{{1000, 2}, {10000, 1}} {
		ks, bs, how := b.pairAt(kindKefu, kindBareDurable, c.rate)
		if ks == nil || bs.Deliver.P99M <= 0 {
			continue
		}
		r := ks.Deliver.P99M / bs.Deliver.P99M
		add(fmt.Sprintf("delivery p99 at %s msg/s ≤ %.1f× bare+bbolt (issue 16)", num(c.rate), c.limit),
			fmt.Sprintf("%s against %s, %.2f× (%s)", ms(ks.Deliver.P99M), ms(bs.Deliver.P99M), r, how), r <= c.limit)
	}
	return t
}
