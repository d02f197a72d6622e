package store

import "crypto/sha256"

// UserKey is where a verified user's visitor is found (issue 15): the
// shop's user id, hashed into the token hashes' space. It lives beside
// the devices' token hashes, so erasing the visitor erases it too; no
// token can hash to it, so it never lets anyone in.
func UserKey(userID string) []byte {
	h := sha256.Sum256([]byte("kefu-user\x00" + userID))
	return h[:]
}

// Store.LinkUser (boltdb, jetstream) makes a device use a verified
// user's visitor: afterwards userKey and the device's tokenHash name the
// same visitor — the one userKey named already (the device is re-pointed
// to it), else visitorID (the device's visitor becomes the user's). It
// returns that visitor; ErrNotFound when it does not exist.
