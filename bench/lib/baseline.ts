/**
 * The baseline build of `--baseline <git-ref>`: a clean copy of that commit's tree outside the work
 * tree (`git archive`, no worktree registered, nothing of the work tree's state in it), compiled by
 * its own `npm run build`, which the benchmark runs as the system `walcast-baseline`.
 *
 * Dependencies are shared, not installed: the copy's node_modules is a symlink to the repository's
 * own, so every package of the commit's package-lock.json must be installed here at the same version
 * (checked; the run stops otherwise). Packages added since are allowed: the commit never loads them.
 * Builds are kept in .local/bench-baseline/<commit> and reused by later runs for the same commit.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log, ROOT } from './util.ts';

export interface Baseline {
  /** As given on the command line, e.g. HEAD~1 or main. */
  ref: string;
  /** Full commit id. */
  commit: string;
  /** Abbreviated commit id (as walcast's own revision is reported). */
  short: string;
  /** The compiled copy: .local/bench-baseline/<commit>. */
  dir: string;
  /** An earlier run's build of the same commit was reused. */
  reused: boolean;
}

/** Written last, after a successful build: a directory without it is incomplete. */
const MARKER = '.bench-baseline.json';

function git(args: string[]): string {
  return execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

function resolveCommit(ref: string): string {
  try {
    return git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).trim();
  } catch {
    throw new Error(`--baseline ${ref}: not a commit of this repository (git rev-parse --verify ${ref})`);
  }
}

interface LockPackage {
  version?: string;
  integrity?: string;
}

/**
 * The baseline runs on this tree's node_modules: refuses a commit with a package this tree does
 * not install at the same version and integrity. Packages this tree adds are allowed: the
 * baseline's code never loads them.
 */
function checkSameDependencies(ref: string, commit: string, short: string): void {
  let theirs: Record<string, LockPackage>;
  try {
    theirs = (JSON.parse(git(['show', `${commit}:package-lock.json`])) as { packages: Record<string, LockPackage> }).packages;
  } catch {
    throw new Error(`--baseline ${ref} (${short}) has no readable package-lock.json: its dependencies cannot be shown to be this tree's`);
  }
  const ours = (JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> }).packages;
  const differing = Object.entries(theirs)
    .filter(([path, pkg]) => path !== '' && (ours[path]?.version !== pkg.version || ours[path]?.integrity !== pkg.integrity))
    .map(([path, pkg]) => `${path}@${pkg.version ?? '?'}`);
  if (differing.length > 0) {
    throw new Error(
      `--baseline ${ref} (${short}): ${differing.length} of its packages are not installed here at the same version (${differing.slice(0, 5).join(', ')}${differing.length > 5 ? ', ...' : ''}; git diff ${short} -- package-lock.json). ` +
        "The baseline runs with this tree's node_modules, so only commits whose dependencies this tree installs can be compared this way.",
    );
  }
}

/**
 * Resolves `ref`, checks that its dependencies are this tree's, and returns its compiled copy,
 * building it first unless a complete build of that commit exists. The copy is built in a
 * temporary directory and renamed into place, so an interrupted or concurrent build never leaves
 * a half-built directory that a later run would reuse.
 */
export function prepareBaseline(ref: string): Baseline {
  const commit = resolveCommit(ref);
  const short = git(['rev-parse', '--short', commit]).trim();
  checkSameDependencies(ref, commit, short);
  const dir = join(ROOT, '.local', 'bench-baseline', commit);
  if (existsSync(join(dir, MARKER))) {
    log(`baseline ${ref} = ${short}: reusing the build in ${dir}`);
    return { ref, commit, short, dir, reused: true };
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    log(`baseline ${ref} = ${short}: extracting the commit's tree into ${tmp} (git archive)`);
    const tar = execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', commit], { maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', tmp], { input: tar });
    if (!existsSync(join(tmp, 'bin', 'walcast.js'))) throw new Error(`--baseline ${ref} (${short}) has no bin/walcast.js: too old to be run as walcast is`);
    // some commits of 2026-12-01/02 carry a stray node_modules (and .local) symlink: replaced by ours
    rmSync(join(tmp, 'node_modules'), { force: true });
    rmSync(join(tmp, '.local'), { force: true });
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(tmp, 'node_modules'));
    log(`baseline ${ref} = ${short}: compiling it (npm run build)`);
    try {
      execFileSync('npm', ['run', '--silent', 'build'], { cwd: tmp, stdio: 'inherit' });
    } catch {
      throw new Error(`--baseline ${ref} (${short}): npm run build failed in ${tmp} (output above)`);
    }
    if (!existsSync(join(tmp, 'dist', 'cli.js'))) throw new Error(`--baseline ${ref} (${short}): npm run build produced no dist/cli.js`);
    writeFileSync(join(tmp, MARKER), JSON.stringify({ ref, commit, builtAt: new Date().toISOString(), node: process.version }, null, 2) + '\n');
    if (existsSync(join(dir, MARKER))) {
      // another run built the same commit meanwhile: use that one
      rmSync(tmp, { recursive: true, force: true });
    } else {
      rmSync(dir, { recursive: true, force: true }); // an incomplete directory of an earlier failed attempt
      renameSync(tmp, dir);
    }
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  log(`baseline ${ref} = ${short}: built in ${dir}`);
  return { ref, commit, short, dir, reused: false };
}
