// binary-trees, Java, Weft peer: java BinaryTrees N [T]. With T > 1 each depth's
// iterations are split over T platform threads. GC pauses come from -Xlog:gc, which
// run.py turns on and reads.
public final class BinaryTrees {
  private static final class Tree {
    final Tree l, r;

    Tree(Tree l, Tree r) {
      this.l = l;
      this.r = r;
    }

    int count() {
      return l == null ? 1 : 1 + l.count() + r.count();
    }
  }

  private static Tree build(int depth) {
    if (depth == 0) return new Tree(null, null);
    Tree l = build(depth - 1);
    Tree r = build(depth - 1);
    return new Tree(l, r);
  }

  private static long runRange(int depth, long from, long to) {
    long sum = 0;
    for (long i = from; i < to; i++) sum += build(depth).count();
    return sum;
  }

  public static void main(String[] args) throws InterruptedException {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    int workers = args.length > 1 ? Math.max(1, Integer.parseInt(args[1])) : 1;
    final int minDepth = 4;
    int maxDepth = Math.max(minDepth + 2, n);
    StringBuilder out = new StringBuilder();
    out.append("stretch tree of depth ").append(maxDepth + 1).append("\t check: ")
        .append(build(maxDepth + 1).count()).append('\n');
    Tree longLived = build(maxDepth);
    for (int d = minDepth; d <= maxDepth; d += 2) {
      final long iters = 1L << (maxDepth - d + minDepth);
      long total = 0;
      if (workers == 1) {
        total = runRange(d, 0, iters);
      } else {
        final long[] part = new long[workers];
        Thread[] pool = new Thread[workers];
        for (int w = 0; w < workers; w++) {
          final int ww = w, dd = d, nw = workers;
          pool[w] = new Thread(() -> part[ww] = runRange(dd, iters * ww / nw, iters * (ww + 1) / nw));
          pool[w].start();
        }
        for (int w = 0; w < workers; w++) {
          pool[w].join();
          total += part[w];
        }
      }
      out.append(iters).append("\t trees of depth ").append(d).append("\t check: ").append(total).append('\n');
    }
    out.append("long lived tree of depth ").append(maxDepth).append("\t check: ")
        .append(longLived.count()).append('\n');
    System.out.print(out);
    System.out.flush();
  }
}
