#!/usr/bin/env python3
"""Prints a JSON description of every node under a directory, for comparing two extractions.

Independent of tspod on purpose: os.lstat and os.*xattr(follow_symlinks=False), nothing else.
Hard links are described by the first path (sorted) of their inode group.
"""
import hashlib, json, os, stat, sys

root = sys.argv[1]
skip_mtime = set(sys.argv[2:])
nodes, first_path_of_inode = {}, {}

def kind(m):
    for test, name in ((stat.S_ISDIR, 'dir'), (stat.S_ISREG, 'file'), (stat.S_ISLNK, 'symlink'),
                       (stat.S_ISCHR, 'char'), (stat.S_ISBLK, 'block'), (stat.S_ISFIFO, 'fifo')):
        if test(m):
            return name
    return 'other'

def describe(path, rel):
    st = os.lstat(path)
    k = kind(st.st_mode)
    d = {'type': k, 'mode': oct(stat.S_IMODE(st.st_mode)), 'uid': st.st_uid, 'gid': st.st_gid}
    if k != 'dir':
        d['mtime_ns'] = st.st_mtime_ns
    if k == 'file':
        d['size'] = st.st_size
        with open(path, 'rb') as f:
            d['sha256'] = hashlib.sha256(f.read()).hexdigest()
        if st.st_nlink > 1:
            d['inode_group'] = first_path_of_inode.setdefault(st.st_ino, rel)
    if k == 'symlink':
        d['target'] = os.readlink(path)
    if k in ('char', 'block'):
        d['rdev'] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
        d['xattrs'] = {n: os.getxattr(path, n, follow_symlinks=False).hex() for n in names}
    except OSError:
        d['xattrs'] = 'unsupported'
    return d

paths = []
for dirpath, dirnames, filenames in os.walk(root):
    for name in dirnames + filenames:
        full = os.path.join(dirpath, name)
        paths.append((os.path.relpath(full, root), full))
paths.sort()
nodes['.'] = describe(root, '.')
for rel, full in paths:
    nodes[rel] = describe(full, rel)
# Directory mtimes change whenever something is created inside, so they are compared only for
# directories the caller knows the archive lists (argv[2:]); the rest are dropped above.
for rel, full in [('.', root)] + paths:
    if nodes[rel]['type'] == 'dir' and rel not in skip_mtime:
        nodes[rel]['mtime_ns'] = os.lstat(full).st_mtime_ns
json.dump(nodes, sys.stdout, indent=1, sort_keys=True)
