package content

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// A large noisy PNG comes out as a JPEG within the limit, smaller on its
// longest side, with its aspect kept.
func TestPictureShrinks(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 1600, 900))
	seed := uint32(7)
	for y := range 900 {
		for x := range 1600 {
			seed = seed*1664525 + 1013904223
			src.Set(x, y, color.RGBA{uint8(seed >> 24), uint8(x), uint8(y), 255})
		}
	}
	var in bytes.Buffer
	if err := png.Encode(&in, src); err != nil {
		t.Fatal(err)
	}
	out, err := Picture(in.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > MaxPicture {
		t.Fatalf("%d bytes, want at most %d", len(out), MaxPicture)
	}
	img, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() > 640 || b.Dx() <= b.Dy() {
		t.Errorf("got %d×%d from 1600×900", b.Dx(), b.Dy())
	}
}

func TestPictureRefusesOthers(t *testing.T) {
	for name, data := range map[string][]byte{
		"text":  []byte("hello"),
		"empty": nil,
		// A PNG header claiming 100000×100000 pixels.
		"bomb": append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0, 0, 0, 0, 0),
	} {
		if _, err := Picture(data); !errors.Is(err, ErrPicture) {
			t.Errorf("%s: %v, want ErrPicture", name, err)
		}
	}
}
