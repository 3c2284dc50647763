// Allocation rate, Java, Weft peer: java AllocRate N. Allocates N (default 100M)
// objects {long value; Object next} (24 bytes with compressed oops), keeps the last
// 1000 in a static ring and reads each evicted one. Prints
// "allocated N objects, checksum S" (S = N(N-1)/2) and ns-per-alloc on stderr.
public final class AllocRate {
  private static final class Cell {
    long value;
    Object next;

    Cell(long value) {
      this.value = value;
    }
  }

  private static final int KEEP = 1000;
  private static final Cell[] keep = new Cell[KEEP];

  public static void main(String[] args) {
    long n = args.length > 0 ? Long.parseLong(args[0]) : 100_000_000L;
    long sum = 0;
    int slot = 0;
    long t0 = System.nanoTime();
    for (long i = 0; i < n; i++) {
      Cell c = new Cell(i);
      Cell old = keep[slot];
      if (old != null) sum += old.value;
      keep[slot] = c;
      if (++slot == KEEP) slot = 0;
    }
    long elapsed = System.nanoTime() - t0;
    for (Cell c : keep) if (c != null) sum += c.value;
    System.out.println("allocated " + n + " objects, checksum " + sum);
    System.out.flush();
    System.err.printf("ns-per-alloc: %.3f%n", (double) elapsed / n);
  }
}
