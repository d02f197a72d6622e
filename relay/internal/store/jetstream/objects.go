package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// getObject reads a whole object. An object's chunks are read through an
// ordered consumer, and JetStream may place that consumer on a follower
// that has not yet stored every chunk the leader acknowledged: the read
// then ends early and fails its digest check. The object's info comes from
// the leader, so the object is complete at quorum; reading again once the
// follower has caught up gives it whole. Only a digest mismatch is retried,
// until ctx ends.
func getObject(ctx context.Context, obj jetstream.ObjectStore, name string) ([]byte, error) {
	wait := 10 * time.Millisecond
	for {
		data, err := obj.GetBytes(ctx, name)
		if !errors.Is(err, jetstream.ErrDigestMismatch) {
			return data, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("object %s still incomplete on this server: %w", name, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}
