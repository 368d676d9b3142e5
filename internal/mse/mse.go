// Package mse implements BitTorrent's Message Stream Encryption (also
// called Protocol Encryption): a Diffie-Hellman key exchange over a
// 768-bit group, then RC4 (first 1024 bytes of keystream discarded) keyed
// from the shared secret and the info-hash, which the handshake also
// proves knowledge of without revealing it.
//
// The initiator (A) and the receiver (B) exchange, in order:
//
//	A→B  Ya, PadA
//	B→A  Yb, PadB
//	A→B  HASH("req1", S), HASH("req2", SKEY) xor HASH("req3", S),
//	     ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
//	B→A  ENCRYPT(VC, crypto_select, len(PadD), PadD), then the stream
//
// Y is a 96-byte public key, pads are 0-512 bytes, VC is eight zero bytes,
// S the shared secret and SKEY the info-hash. The receiver finds the
// synchronisation points by scanning: HASH("req1", S) after PadA, and the
// encrypted VC after PadB. Every read is bounded by those limits.
package mse

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"
)

// Methods a side may provide or select (crypto_provide bits).
const (
	Plaintext uint32 = 1
	RC4       uint32 = 2
)

// Errors a caller may test for.
var (
	ErrHandshake = errors.New("mse: handshake failed")
	ErrNoSync    = errors.New("mse: synchronisation point not found")
	ErrSKEY      = errors.New("mse: unknown info-hash")
	ErrMethod    = errors.New("mse: no acceptable encryption method")
)

const (
	keyLen    = 96
	maxPad    = 512
	vcLen     = 8
	maxIALen  = 68 + 512 // a handshake and some
	discardKS = 1024
)

var (
	prime, _ = new(big.Int).SetString("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)
	gen      = big.NewInt(2)
)

// keyPair is one side's Diffie-Hellman key.
type keyPair struct {
	x   *big.Int
	pub [keyLen]byte
}

func newKeyPair() (*keyPair, error) {
	var xb [20]byte // a 160-bit exponent, as the protocol asks
	if _, err := rand.Read(xb[:]); err != nil {
		return nil, err
	}
	k := &keyPair{x: new(big.Int).SetBytes(xb[:])}
	new(big.Int).Exp(gen, k.x, prime).FillBytes(k.pub[:])
	return k, nil
}

// secret computes S from the other side's public key.
func (k *keyPair) secret(other []byte) ([keyLen]byte, error) {
	var s [keyLen]byte
	y := new(big.Int).SetBytes(other)
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(new(big.Int).Sub(prime, big.NewInt(1))) >= 0 {
		return s, fmt.Errorf("%w: bad public key", ErrHandshake)
	}
	new(big.Int).Exp(y, k.x, prime).FillBytes(s[:])
	return s, nil
}

func hash(parts ...[]byte) [20]byte {
	h := sha1.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out [20]byte
	h.Sum(out[:0])
	return out
}

func newRC4(name string, s [keyLen]byte, skey [20]byte) *rc4.Cipher {
	k := hash([]byte(name), s[:], skey[:])
	c, _ := rc4.NewCipher(k[:])
	var discard [discardKS]byte
	c.XORKeyStream(discard[:], discard[:])
	return c
}

func randomPad() ([]byte, error) {
	var nb [2]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return nil, err
	}
	pad := make([]byte, int(binary.BigEndian.Uint16(nb[:]))%(maxPad+1))
	_, err := rand.Read(pad)
	return pad, err
}

// Conn is a connection after the handshake: reads and writes go through
// RC4 when that was selected, else straight through.
type Conn struct {
	net.Conn
	r        io.Reader
	enc      *rc4.Cipher // nil: plaintext
	dec      *rc4.Cipher
	Method   uint32
	wbuf     []byte
	initial  []byte // data that arrived with the handshake, already decrypted
	InfoHash [20]byte
}

// Read reads decrypted data.
func (c *Conn) Read(b []byte) (int, error) {
	if len(c.initial) > 0 {
		n := copy(b, c.initial)
		c.initial = c.initial[n:]
		return n, nil
	}
	n, err := c.r.Read(b)
	if c.dec != nil && n > 0 {
		c.dec.XORKeyStream(b[:n], b[:n])
	}
	return n, err
}

// Write encrypts b (when RC4 was selected) and writes it.
func (c *Conn) Write(b []byte) (int, error) {
	if c.enc == nil {
		return c.Conn.Write(b)
	}
	if cap(c.wbuf) < len(b) {
		c.wbuf = make([]byte, len(b))
	}
	buf := c.wbuf[:len(b)]
	c.enc.XORKeyStream(buf, b)
	n, err := c.Conn.Write(buf)
	if n < len(b) {
		// RC4 state has advanced past what was written: the stream is lost.
		return n, errors.Join(err, io.ErrShortWrite)
	}
	return n, err
}

// Initiate runs the initiator's side over nc: provide is the methods we
// accept (Plaintext|RC4, or RC4 alone to require encryption), ia the
// initial payload (normally the BitTorrent handshake), sent encrypted.
func Initiate(nc net.Conn, skey [20]byte, provide uint32, ia []byte, deadline time.Time) (*Conn, error) {
	if len(ia) > maxIALen {
		return nil, fmt.Errorf("%w: initial payload of %d bytes", ErrHandshake, len(ia))
	}
	nc.SetDeadline(deadline)
	defer nc.SetDeadline(time.Time{})
	k, err := newKeyPair()
	if err != nil {
		return nil, err
	}
	padA, err := randomPad()
	if err != nil {
		return nil, err
	}
	if _, err := nc.Write(append(k.pub[:], padA...)); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	var yb [keyLen]byte
	if _, err := io.ReadFull(br, yb[:]); err != nil {
		return nil, fmt.Errorf("%w: reading Yb: %w", ErrHandshake, err)
	}
	s, err := k.secret(yb[:])
	if err != nil {
		return nil, err
	}
	enc, dec := newRC4("keyA", s, skey), newRC4("keyB", s, skey)
	req1 := hash([]byte("req1"), s[:])
	req2 := hash([]byte("req2"), skey[:])
	req3 := hash([]byte("req3"), s[:])
	var msg []byte
	msg = append(msg, req1[:]...)
	for i := range req2 {
		msg = append(msg, req2[i]^req3[i])
	}
	plain := make([]byte, 0, vcLen+4+2+2+len(ia))
	plain = append(plain, make([]byte, vcLen)...)
	plain = binary.BigEndian.AppendUint32(plain, provide)
	plain = binary.BigEndian.AppendUint16(plain, 0) // len(PadC): no pad
	plain = binary.BigEndian.AppendUint16(plain, uint16(len(ia)))
	plain = append(plain, ia...)
	encd := make([]byte, len(plain))
	enc.XORKeyStream(encd, plain)
	if _, err := nc.Write(append(msg, encd...)); err != nil {
		return nil, err
	}
	// Find ENCRYPT(VC) after PadB: the keystream B uses, applied to zeros.
	var vc [vcLen]byte
	probe := newRC4("keyB", s, skey)
	probe.XORKeyStream(vc[:], vc[:])
	if err := syncTo(br, vc[:], maxPad); err != nil {
		return nil, err
	}
	dec.XORKeyStream(make([]byte, vcLen), make([]byte, vcLen)) // keep dec in step with the VC just read
	var sel [6]byte
	if _, err := io.ReadFull(br, sel[:]); err != nil {
		return nil, fmt.Errorf("%w: reading crypto_select: %w", ErrHandshake, err)
	}
	dec.XORKeyStream(sel[:], sel[:])
	method := binary.BigEndian.Uint32(sel[:4])
	padD := int(binary.BigEndian.Uint16(sel[4:]))
	if padD > maxPad {
		return nil, fmt.Errorf("%w: PadD of %d bytes", ErrHandshake, padD)
	}
	if (method != Plaintext && method != RC4) || method&provide == 0 {
		return nil, fmt.Errorf("%w: peer selected %#x, we provide %#x", ErrMethod, method, provide)
	}
	pad := make([]byte, padD)
	if _, err := io.ReadFull(br, pad); err != nil {
		return nil, fmt.Errorf("%w: reading PadD: %w", ErrHandshake, err)
	}
	dec.XORKeyStream(pad, pad)
	c := &Conn{Conn: nc, r: br, Method: method, InfoHash: skey}
	if method == RC4 {
		c.enc, c.dec = enc, dec
	}
	return c, nil
}

// syncTo consumes r up to and including pattern, which must start within
// limit bytes.
func syncTo(r *bufio.Reader, pattern []byte, limit int) error {
	window := make([]byte, 0, limit+len(pattern))
	for len(window) < limit+len(pattern) {
		b, err := r.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNoSync, err)
		}
		window = append(window, b)
		if len(window) >= len(pattern) && bytes.Equal(window[len(window)-len(pattern):], pattern) {
			return nil
		}
	}
	return fmt.Errorf("%w within %d bytes", ErrNoSync, limit)
}

// Receive runs the receiver's side over nc, whose first bytes (already
// read, to tell MSE from a plaintext handshake) are in first. skeys lists
// the info-hashes we serve; choose picks our method from the initiator's
// crypto_provide (0: refuse). The returned Conn yields the initial payload
// first.
func Receive(nc net.Conn, first []byte, skeys func(req2xor3 [20]byte, s [keyLen]byte) ([20]byte, bool),
	choose func(provide uint32) uint32, deadline time.Time) (*Conn, error) {
	nc.SetDeadline(deadline)
	defer nc.SetDeadline(time.Time{})
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(first), nc), 4096)
	var ya [keyLen]byte
	if _, err := io.ReadFull(br, ya[:]); err != nil {
		return nil, fmt.Errorf("%w: reading Ya: %w", ErrHandshake, err)
	}
	k, err := newKeyPair()
	if err != nil {
		return nil, err
	}
	s, err := k.secret(ya[:])
	if err != nil {
		return nil, err
	}
	padB, err := randomPad()
	if err != nil {
		return nil, err
	}
	if _, err := nc.Write(append(k.pub[:], padB...)); err != nil {
		return nil, err
	}
	req1 := hash([]byte("req1"), s[:])
	if err := syncTo(br, req1[:], maxPad); err != nil {
		return nil, err
	}
	var x [20]byte
	if _, err := io.ReadFull(br, x[:]); err != nil {
		return nil, fmt.Errorf("%w: reading the info-hash proof: %w", ErrHandshake, err)
	}
	skey, ok := skeys(x, s)
	if !ok {
		return nil, ErrSKEY
	}
	dec, enc := newRC4("keyA", s, skey), newRC4("keyB", s, skey)
	var head [vcLen + 4 + 2]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return nil, fmt.Errorf("%w: reading VC: %w", ErrHandshake, err)
	}
	dec.XORKeyStream(head[:], head[:])
	if !bytes.Equal(head[:vcLen], make([]byte, vcLen)) {
		return nil, fmt.Errorf("%w: bad VC", ErrHandshake)
	}
	provide := binary.BigEndian.Uint32(head[vcLen:])
	padC := int(binary.BigEndian.Uint16(head[vcLen+4:]))
	if padC > maxPad {
		return nil, fmt.Errorf("%w: PadC of %d bytes", ErrHandshake, padC)
	}
	rest := make([]byte, padC+2)
	if _, err := io.ReadFull(br, rest); err != nil {
		return nil, fmt.Errorf("%w: reading PadC: %w", ErrHandshake, err)
	}
	dec.XORKeyStream(rest, rest)
	iaLen := int(binary.BigEndian.Uint16(rest[padC:]))
	if iaLen > maxIALen {
		return nil, fmt.Errorf("%w: initial payload of %d bytes", ErrHandshake, iaLen)
	}
	ia := make([]byte, iaLen)
	if _, err := io.ReadFull(br, ia); err != nil {
		return nil, fmt.Errorf("%w: reading the initial payload: %w", ErrHandshake, err)
	}
	dec.XORKeyStream(ia, ia)
	method := choose(provide)
	if method != Plaintext && method != RC4 {
		return nil, fmt.Errorf("%w: peer provides %#x", ErrMethod, provide)
	}
	reply := make([]byte, vcLen+4+2)
	binary.BigEndian.PutUint32(reply[vcLen:], method)
	enc.XORKeyStream(reply, reply)
	if _, err := nc.Write(reply); err != nil {
		return nil, err
	}
	c := &Conn{Conn: nc, r: br, Method: method, initial: ia, InfoHash: skey}
	if method == RC4 {
		c.enc, c.dec = enc, dec
	}
	return c, nil
}

// MatchSKEY returns a Receive skeys function over a set of info-hashes.
func MatchSKEY(lookup func(yield func([20]byte) bool)) func([20]byte, [keyLen]byte) ([20]byte, bool) {
	return func(x [20]byte, s [keyLen]byte) ([20]byte, bool) {
		req3 := hash([]byte("req3"), s[:])
		var want [20]byte
		for i := range want {
			want[i] = x[i] ^ req3[i]
		}
		var found [20]byte
		ok := false
		lookup(func(ih [20]byte) bool {
			if hash([]byte("req2"), ih[:]) == want {
				found, ok = ih, true
				return false
			}
			return true
		})
		return found, ok
	}
}
