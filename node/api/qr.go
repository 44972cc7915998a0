package api

import (
	"errors"
	"net/http"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// QR codes as PNG images for the web interface, which may not load a QR
// library of its own:
//
//	GET /v1/groups/{group}/invite.png       the group's invite link
//	GET /v1/wallet/requests/qr.png?link=L   a payment request link (banyan:pay1.…)
func (s *Server) qrRoutes() {
	s.mux.HandleFunc("GET /v1/groups/{group}/invite.png", s.groupQR)
	s.mux.HandleFunc("GET /v1/wallet/requests/qr.png", s.requestQR)
}

// maxQRLink bounds the text of a QR code made on request; request links are
// a few hundred bytes.
const maxQRLink = 2048

func (s *Server) groupQR(w http.ResponseWriter, r *http.Request) {
	in, err := s.b.Invite(r.Context(), r.PathValue("group"))
	if err != nil {
		s.reply(w, nil, err)
		return
	}
	s.png(w, in.Link)
}

func (s *Server) requestQR(w http.ResponseWriter, r *http.Request) {
	link := r.URL.Query().Get("link")
	// Only payment request links: this route draws what it is given, and it
	// should not draw anything else.
	if !strings.HasPrefix(link, "banyan:pay1.") || len(link) > maxQRLink {
		writeError(w, &StatusError{Status: http.StatusBadRequest, Message: "link must be a payment request link (banyan:pay1.…)"})
		return
	}
	s.png(w, link)
}

func (s *Server) png(w http.ResponseWriter, text string) {
	png, err := qrcode.Encode(text, qrcode.Medium, 512)
	if err != nil {
		s.reply(w, nil, errors.New("could not draw the QR code: "+err.Error()))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(png)
}
