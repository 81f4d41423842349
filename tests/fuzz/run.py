#!/usr/bin/env python3
"""Builds and runs the libFuzzer targets of tests/fuzz (README.md there).

  run.py [--build DIR] build                  configure and build DIR with clang
  run.py [--build DIR] replay TARGET...       run every seed (and regress-*) once
  run.py [--build DIR] fuzz TARGET... --seconds N [--work DIR] [--fresh]
  run.py [--build DIR] all --seconds N        build, then replay and fuzz each target

A run fuzzes in a scratch corpus (WORK/TARGET/corpus, the seeds copied in),
never in tests/fuzz/corpus. The first crash, sanitizer report, leak or hang
stops everything: the exit status is 1 and the input is kept in
WORK/TARGET/artifacts/.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent.parent
TARGETS = sorted(p.stem[len('fuzz_'):] for p in FUZZ.glob('fuzz_*.cpp'))
# A slower input than this is a hang.
INPUT_TIMEOUT = 10


class Failure(Exception):
    pass


def build(build_dir, jobs):
    for tool in ('clang', 'clang++'):
        if not shutil.which(tool):
            raise Failure(f'{tool} not found: `make deps` installs it (package clang)')
    subprocess.run(['cmake', '-S', str(ROOT), '-B', str(build_dir), '-DACTORPBX_FUZZ=ON',
                    '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DCMAKE_C_COMPILER=clang',
                    '-DCMAKE_CXX_COMPILER=clang++'], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(['cmake', '--build', str(build_dir), f'-j{jobs}'], check=True)


def binary(build_dir, target):
    path = Path(build_dir) / 'tests/fuzz' / f'fuzz_{target}'
    if not path.exists():
        raise Failure(f'{path} is missing: run `{sys.argv[0]} --build {build_dir} build` first')
    return path


def environment():
    env = dict(os.environ)
    env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1')
    if not shutil.which('llvm-symbolizer'):
        found = sorted(glob.glob('/usr/lib/llvm-*/bin/llvm-symbolizer'))
        if found:
            env.setdefault('ASAN_SYMBOLIZER_PATH', found[-1])
    return env


def seeds(target):
    return sorted(p for p in (FUZZ / 'corpus' / target).iterdir() if p.is_file())


def options(target):
    opts = [f'-timeout={INPUT_TIMEOUT}', '-rss_limit_mb=2048']
    if (FUZZ / f'{target}.dict').exists():
        opts.append(f'-dict={FUZZ / f"{target}.dict"}')
    return opts


def tail(log, lines=60):
    text = Path(log).read_text(errors='replace').splitlines()
    return '\n'.join(text[-lines:])


def replay(build_dir, target):
    files = seeds(target)
    if not files:
        raise Failure(f'{target}: no seeds in tests/fuzz/corpus/{target}')
    run = lambda fs: subprocess.run([str(binary(build_dir, target)), *options(target),
                                     *map(str, fs)], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=environment(), timeout=600)
    proc = run(files)
    if proc.returncode != 0:
        # LeakSanitizer reports at exit, after the last seed: find the seed alone.
        for f in files:
            alone = run([f])
            if alone.returncode != 0:
                out = alone.stdout.decode(errors='replace')
                raise Failure(f'{target}: seed {f} fails (exit {alone.returncode}):\n'
                              + '\n'.join(out.splitlines()[:80]))
        out = proc.stdout.decode(errors='replace')
        raise Failure(f'{target}: the seeds fail together (exit {proc.returncode}), '
                      f'none alone:\n' + '\n'.join(out.splitlines()[-80:]))
    print(f'{target}: {len(files)} seeds replayed, no failure', flush=True)


def stat(log_text, name):
    m = re.search(rf'^stat::{name}:\s*(\d+)', log_text, re.M)
    return m.group(1) if m else '?'


def fuzz(build_dir, target, seconds, work_root, fresh):
    work = Path(work_root) / target
    if fresh and work.exists():
        shutil.rmtree(work)
    corpus, artifacts = work / 'corpus', work / 'artifacts'
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    for f in seeds(target):
        shutil.copy(f, corpus / f.name)
    before = set(artifacts.iterdir())
    start_units = len(list(corpus.iterdir()))
    log = work / 'fuzz.log'
    cmd = [str(binary(build_dir, target)), str(corpus), *options(target),
           f'-max_total_time={seconds}', f'-artifact_prefix={artifacts}/',
           '-print_final_stats=1']
    started = time.monotonic()
    with open(log, 'wb') as out:
        try:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=environment(),
                                timeout=seconds + INPUT_TIMEOUT + 120).returncode
        except subprocess.TimeoutExpired:
            rc = 'timeout'
    took = time.monotonic() - started
    found = sorted(set(artifacts.iterdir()) - before)
    if rc != 0 or found:
        where = ', '.join(map(str, found)) or '(none written)'
        again = f'{binary(build_dir, target)} {found[0]}' if found else ' '.join(cmd)
        raise Failure(f'{target}: fuzzing failed (exit {rc}) after {took:.0f} s\n'
                      f'{tail(log)}\n\ninput kept: {where}\nreproduce: {again}\nlog: {log}')
    text = log.read_text(errors='replace')
    units = len(list(corpus.iterdir()))
    print(f'{target}: {took:.0f} s, {stat(text, "number_of_executed_units")} runs, '
          f'{stat(text, "average_exec_per_sec")} exec/s, corpus {start_units} -> {units}, '
          f'peak {stat(text, "peak_rss_mb")} MB', flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=str(ROOT / 'build-fuzz'), help='the fuzz build directory')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--seconds', type=int, default=60, help='fuzzing time per target')
    ap.add_argument('--work', help='scratch directory (default BUILD/runs)')
    ap.add_argument('--fresh', action='store_true', help='start from the seeds alone')
    ap.add_argument('command', choices=['build', 'replay', 'fuzz', 'all'])
    ap.add_argument('targets', nargs='*', help=f'default: all of {", ".join(TARGETS)}')
    args = ap.parse_args()
    targets = args.targets or TARGETS
    unknown = set(targets) - set(TARGETS)
    if unknown:
        ap.error(f'unknown targets: {", ".join(sorted(unknown))}')
    work = args.work or str(Path(args.build) / 'runs')
    try:
        if args.command in ('build', 'all'):
            build(args.build, args.jobs)
        for t in targets if args.command != 'build' else []:
            if args.command in ('replay', 'all'):
                replay(args.build, t)
            if args.command in ('fuzz', 'all'):
                fuzz(args.build, t, args.seconds, work, args.fresh)
    except Failure as e:
        print(f'\nFUZZ FAILURE: {e}', file=sys.stderr, flush=True)
        return 1
    except subprocess.CalledProcessError as e:
        print(f'\nFUZZ FAILURE: {" ".join(map(str, e.cmd))} exited {e.returncode}',
              file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
