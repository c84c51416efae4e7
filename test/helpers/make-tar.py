#!/usr/bin/env python3
"""Writes a tar archive from a JSON list of entries, for hostile and odd archives GNU tar won't make.

usage: make-tar.py OUT FORMAT < entries.json   (FORMAT: gnu, pax or ustar)
entry: {"name", "type": file|dir|symlink|hardlink|char|block|fifo, "data": text, "size": n (zeros),
        "linkname", "mode", "uid", "gid", "mtime", "devmajor", "devminor", "pax": {key: value}}
"""
import io, json, sys, tarfile

TYPES = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE,
         'hardlink': tarfile.LNKTYPE, 'char': tarfile.CHRTYPE, 'block': tarfile.BLKTYPE,
         'fifo': tarfile.FIFOTYPE}
FORMATS = {'gnu': tarfile.GNU_FORMAT, 'pax': tarfile.PAX_FORMAT, 'ustar': tarfile.USTAR_FORMAT}

out, fmt = sys.argv[1], sys.argv[2]
with tarfile.open(out, 'w', format=FORMATS[fmt]) as tf:
    for e in json.load(sys.stdin):
        ti = tarfile.TarInfo(e['name'])
        ti.type = TYPES[e.get('type', 'file')]
        ti.mode = e.get('mode', 0o755 if ti.type == tarfile.DIRTYPE else 0o644)
        ti.uid, ti.gid = e.get('uid', 0), e.get('gid', 0)
        ti.mtime = e.get('mtime', 1_700_000_000)
        ti.linkname = e.get('linkname', '')
        ti.devmajor, ti.devminor = e.get('devmajor', 0), e.get('devminor', 0)
        if 'pax' in e:
            ti.pax_headers = e['pax']
        data = None
        if ti.type == tarfile.REGTYPE:
            raw = e['data'].encode() if 'data' in e else bytes(e.get('size', 0))
            ti.size = len(raw)
            data = io.BytesIO(raw)
        tf.addfile(ti, data)
