#!/usr/bin/env python3
"""integration.location_reference: location = "reference" — the position gets the
caller's Geolocation header and the other emergency headers, and a plain
application/sdp body (R6442-4.1-a by reference, NENA-3.2-a). See location_multipart.py."""
import harness as h
import location_multipart


def test(env):
    location_multipart.run(env, "reference", 5073, 15300, 15302, 15310, 15320, 31200)


if __name__ == "__main__":
    h.main(test, "location_reference")
