package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kefuhq/kefu/relay/internal/ai"
	"github.com/kefuhq/kefu/relay/internal/identity"
	"github.com/kefuhq/kefu/relay/internal/secret"
)

// secretKey loads the key that seals stored secrets: KEFU_SECRET_KEY, or
// the key file, created at the first start. It returns where the key came
// from, for messages.
func (a *App) secretKey() (*secret.Key, string, error) {
	if a.cfg.SecretKey != "" {
		k, err := secret.Parse(a.cfg.SecretKey)
		if err != nil {
			return nil, "", fmt.Errorf("app: KEFU_SECRET_KEY: %w", err)
		}
		return k, "KEFU_SECRET_KEY", nil
	}
	path := a.cfg.SecretKeyFile
	if path == "" {
		path = filepath.Join(a.cfg.DataDir, secret.DefaultFile)
	}
	k, created, err := secret.LoadOrCreateFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("app: secret key: %w", err)
	}
	if created {
		a.log.Info("kefu: created the secret key file that seals stored secrets; back it up with the database, and give every node of a cluster the same file",
			"file", path, "key_id", k.ID())
	} else if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		a.log.Warn("kefu: the secret key file can be read by other users; chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
	}
	return k, path, nil
}

// explainUnreadable adds what to do to an error about a stored secret the
// key cannot open.
func explainUnreadable(err error, source string) error {
	if !errors.Is(err, ai.ErrKeyUnreadable) {
		return err
	}
	return fmt.Errorf("%w (the key is from %s). Restore the key file this database was used with (every node of a cluster needs the same one), or start once with --forget-secrets=true to delete the stored AI key and enter it again", err, source)
}

// explainIdentity adds what to do to an identity secret the key cannot
// open.
func explainIdentity(err error, source string) error {
	if !errors.Is(err, identity.ErrUnreadable) {
		return err
	}
	return fmt.Errorf("%w (the key is from %s). Restore the key file this database was used with (every node of a cluster needs the same one), or start once with --forget-secrets=true to delete the stored identity secret and generate a new one on the admin page", err, source)
}
