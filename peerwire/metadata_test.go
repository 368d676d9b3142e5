package peerwire

import (
	"bytes"
	"errors"
	"testing"
)

func TestMetadataMsgRoundTrip(t *testing.T) {
	for _, m := range []MetadataMsg{
		{Type: MetadataRequest, Piece: 3},
		{Type: MetadataReject, Piece: 0},
		{Type: MetadataData, Piece: 1, TotalSize: 20000, Data: bytes.Repeat([]byte{7}, 20000-MetadataPieceSize)},
	} {
		b := AppendMetadataMsg(nil, m)
		got, err := ParseMetadataMsg(b)
		if err != nil || got.Type != m.Type || got.Piece != m.Piece || got.TotalSize != m.TotalSize || !bytes.Equal(got.Data, m.Data) {
			t.Fatalf("%+v → %q → %+v, %v", m, b[:min(len(b), 60)], got, err)
		}
	}
	if got := string(AppendMetadataMsg(nil, MetadataMsg{Type: 0, Piece: 2})); got != "d8:msg_typei0e5:piecei2ee" {
		t.Fatalf("request encodes as %q", got)
	}
}

func TestParseMetadataMsgErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"not a dict":     "i1e",
		"no type":        "d5:piecei0ee",
		"bad type":       "d8:msg_typei9e5:piecei0ee",
		"negative piece": "d8:msg_typei0e5:piecei-1ee",
		"huge piece":     "d8:msg_typei0e5:piecei99999999ee",
		"no total size":  "d8:msg_typei1e5:piecei0ee" + "xx",
		"huge total":     "d8:msg_typei1e5:piecei0e10:total_sizei99999999999ee",
		"piece too big":  "d8:msg_typei1e5:piecei0e10:total_sizei99999ee" + string(make([]byte, MetadataPieceSize+1)),
		"deep":           "d8:msg_typeli1eee",
	} {
		if _, err := ParseMetadataMsg([]byte(in)); !errors.Is(err, ErrMetadata) {
			t.Errorf("%s: %v, want ErrMetadata", name, err)
		}
	}
}

func FuzzMetadataMsg(f *testing.F) {
	f.Add(AppendMetadataMsg(nil, MetadataMsg{Type: 1, Piece: 0, TotalSize: 5, Data: []byte("hello")}))
	f.Add([]byte("d8:msg_typei0e5:piecei2ee"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseMetadataMsg(in)
		if err != nil {
			return
		}
		if len(m.Data) > MetadataPieceSize || m.Piece < 0 || m.TotalSize > MaxMetadataSize {
			t.Fatalf("accepted out of bounds: %+v", m)
		}
	})
}
