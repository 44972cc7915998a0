package content

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // pictures may come as PNG
)

// MaxPicture is the largest picture Banyan sends (an avatar, the image of
// a moment), in bytes of JPEG.
const MaxPicture = 32 << 10

// maxPixels bounds the pictures Picture decodes: a small file can claim a
// huge canvas.
const maxPixels = 50_000_000

// pictureSides are the longest sides Picture tries, largest first, and
// pictureQualities the JPEG qualities at each.
var (
	pictureSides     = []int{640, 480, 320, 240, 160, 96}
	pictureQualities = []int{80, 65, 50}
)

// ErrPicture reports data that is not a JPEG or PNG picture Banyan can
// take.
var ErrPicture = errors.New("not a JPEG or PNG picture")

// Picture turns a JPEG or PNG file into a JPEG of at most MaxPicture
// bytes: scaled down (never up) until it fits, re-encoded so that nothing
// but the pixels travels (no metadata, no location).
func Picture(data []byte) ([]byte, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPicture, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return nil, fmt.Errorf("%w: %d×%d pixels", ErrPicture, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPicture, err)
	}
	for _, side := range pictureSides {
		small := scaleDown(img, side)
		for _, q := range pictureQualities {
			var out bytes.Buffer
			if err := jpeg.Encode(&out, small, &jpeg.Options{Quality: q}); err != nil {
				return nil, fmt.Errorf("encode picture: %w", err)
			}
			if out.Len() <= MaxPicture {
				return out.Bytes(), nil
			}
		}
	}
	return nil, fmt.Errorf("%w: does not fit in %d KiB", ErrPicture, MaxPicture>>10)
}

// scaleDown returns img with its longest side at most side pixels, each
// pixel the average of the source pixels it covers.
func scaleDown(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	nw, nh := side, max(1, h*side/w)
	if h > w {
		nw, nh = max(1, w*side/h), side
	}
	out := image.NewRGBA(image.Rect(0, 0, nw, nh))
	for y := range nh {
		y0, y1 := b.Min.Y+y*h/nh, b.Min.Y+max((y+1)*h/nh, y*h/nh+1)
		for x := range nw {
			x0, x1 := b.Min.X+x*w/nw, b.Min.X+max((x+1)*w/nw, x*w/nw+1)
			var r, g, bl, a, n uint64
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					cr, cg, cb, ca := img.At(sx, sy).RGBA()
					r, g, bl, a, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca), n+1
				}
			}
			out.SetRGBA(x, y, color.RGBA{uint8(r / n >> 8), uint8(g / n >> 8), uint8(bl / n >> 8), uint8(a / n >> 8)})
		}
	}
	return out
}
