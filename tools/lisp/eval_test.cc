// Evaluator tests: each runs source text in a fresh runtime and compares the written
// value of its last form (or "error: KIND: MESSAGE").
#include <gtest/gtest.h>

#include "runtime/weft.h"
#include "tools/lisp/interp.h"

namespace weft::lisp {
namespace {

struct Config {
  uint64_t gc_stress = 0;
  size_t managed_stack = 1 << 20;
  // [lisp.limits]
  int64_t max_steps = 0;
  size_t max_threads = 0;
  int64_t max_sleep_ms = 0;
};

std::string Eval(const std::string& text, Config config = {}) {
  Options o;
  o.workers = 2;
  o.native_stack_bytes = 8 << 20;
  o.managed_stack_max_bytes = config.managed_stack;
  o.gc_stress_every = config.gc_stress;
  auto rt = Runtime::Create(o);
  EXPECT_TRUE(rt.ok()) << rt.status();
  std::string out;
  auto status = (*rt)->Run([&] {
    Interp in("eval_test");
    in.main_native_stack = o.native_stack_bytes;
    in.max_steps = config.max_steps;
    in.max_threads = config.max_threads;
    in.max_sleep_ms = config.max_sleep_ms;
    out = in.EvalToString(text);
    in.FinishThreads();
    return 0;
  });
  EXPECT_TRUE(status.ok()) << status.status();
  return out;
}

TEST(EvalTest, Arithmetic) {
  EXPECT_EQ(Eval("(+ 1 2 3)"), "6");
  EXPECT_EQ(Eval("(- 10)"), "-10");
  EXPECT_EQ(Eval("(* 2 3 4)"), "24");
  EXPECT_EQ(Eval("(list (quotient -7 2) (remainder -7 2) (modulo -7 2))"), "(-3 -1 1)");
  EXPECT_EQ(Eval("(list (abs -5) (min 3 1 2) (max 3 1 2))"), "(5 1 3)");
  EXPECT_EQ(Eval("(list (< 1 2 3) (< 1 3 2) (= 2 2) (>= 3 3 1) (<= 1 1 2) (> 3 2))"), "(#t #f #t #t #t #t)");
}

TEST(EvalTest, FixnumOverflowIsAnError) {
  EXPECT_EQ(Eval("(+ 4611686018427387903 1)"), "error: overflow: +: fixnum overflow");
  EXPECT_EQ(Eval("(* 4611686018427387903 2)"), "error: overflow: *: fixnum overflow");
  EXPECT_EQ(Eval("(- -4611686018427387904 1)"), "error: overflow: -: fixnum overflow");
  EXPECT_EQ(Eval("(quotient 1 0)"), "error: division-by-zero: quotient: division by zero");
}

TEST(EvalTest, DefineLambdaClosures) {
  EXPECT_EQ(Eval("(define (make-counter) (let ((n 0)) (lambda () (set! n (+ n 1)) n)))"
                 "(define c (make-counter)) (c) (c) (c)"),
            "3");
  EXPECT_EQ(Eval("(define (f a . rest) (list a rest)) (list (f 1) (f 1 2 3))"), "((1 ()) (1 (2 3)))");
  EXPECT_EQ(Eval("((lambda args args) 1 2)"), "(1 2)");
  EXPECT_EQ(Eval("(define (f x) (define y (* x 2)) (define (g) (+ y 1)) (g)) (f 5)"), "11");
}

TEST(EvalTest, BindingForms) {
  EXPECT_EQ(Eval("(let ((x 1) (y 2)) (let* ((x 10) (z (+ x y))) z))"), "12");
  EXPECT_EQ(Eval("(letrec ((ev? (lambda (n) (if (= n 0) #t (od? (- n 1)))))"
                 "         (od? (lambda (n) (if (= n 0) #f (ev? (- n 1))))))"
                 "  (ev? 100))"),
            "#t");
  EXPECT_EQ(Eval("(let loop ((i 0) (acc '())) (if (= i 3) acc (loop (+ i 1) (cons i acc))))"), "(2 1 0)");
  EXPECT_EQ(Eval("(do ((i 0 (+ i 1)) (s 0 (+ s i))) ((= i 5) s))"), "10");
  EXPECT_EQ(Eval("(letrec ((a (lambda () b)) (b 2)) (a))"), "2");
  EXPECT_EQ(Eval("(letrec ((a b) (b 2)) a)"), "error: unbound-variable: variable used before its definition: b");
}

TEST(EvalTest, Conditionals) {
  EXPECT_EQ(Eval("(cond ((assv 2 '((1 . a) (2 . b))) => cdr) (else 'none))"), "b");
  EXPECT_EQ(Eval("(cond (#f 1) ((+ 1 1)) (else 3))"), "2");
  EXPECT_EQ(Eval("(case (* 2 3) ((2 3 5 7) 'prime) ((1 4 6 8 9) 'composite))"), "composite");
  EXPECT_EQ(Eval("(case 'x ((a) 1) (else => (lambda (k) k)))"), "x");
  EXPECT_EQ(Eval("(list (and 1 2) (and) (or #f 3) (or) (and 1 #f 2))"), "(2 #t 3 #f #f)");
  EXPECT_EQ(Eval("(list (when #t 1 2) (unless #f 3))"), "(2 3)");
}

TEST(EvalTest, Quasiquote) {
  EXPECT_EQ(Eval("(let ((x 2) (l '(3 4))) `(1 ,x ,@l 5))"), "(1 2 3 4 5)");
  EXPECT_EQ(Eval("(let ((x 2)) `#(1 ,x))"), "#(1 2)");
  EXPECT_EQ(Eval("(let ((x 2)) `(a . ,x))"), "(a . 2)");
  EXPECT_EQ(Eval("`(1 `(2 ,(3 ,(+ 1 3))))"), "(1 (quasiquote (2 (unquote (3 4)))))");
}

// Calls of builtins run inline (InlinePrimNode) and calls of top-level procedures go
// through GlobalVar::lambda; both must behave as the plain call once the global is
// redefined, and report the builtin's own errors.
TEST(EvalTest, InlineBuiltinsAndCachedGlobalsFollowRedefinition) {
  EXPECT_EQ(Eval("(define (f x) (+ x 1)) (define a (f 5)) (set! + -) (list a (f 5))"), "(6 4)");
  EXPECT_EQ(Eval("(define (f x) (car x)) (define (car x) 'mine) (f '(1))"), "mine");
  EXPECT_EQ(Eval("(+ 1 2 4611686018427387902)"), "error: overflow: +: fixnum overflow");
  EXPECT_EQ(Eval("(+ 1 'a)"), "error: type-error: +: expected an integer as argument 2, got a");
  EXPECT_EQ(Eval("(< 1 \"x\")"), "error: type-error: <: expected an integer as argument 2, got \"x\"");
  EXPECT_EQ(Eval("(cdr '())"), "error: type-error: cdr: expected a pair as argument 1, got ()");
  EXPECT_EQ(Eval("(list (zero? 0) (zero? 3) (null? '()) (pair? '(1)) (not #f) (eq? 'a 'b) (- 3 5) (>= 2 2))"),
            "(#t #f #t #t #t #f -2 #t)");
  EXPECT_EQ(Eval("(define (g) 1) (define (h) (g)) (define a (h)) (set! g (lambda () 2)) (define b (h))"
                 "(define g (let ((k 3)) (lambda () k))) (list a b (h))"),
            "(1 2 3)");
  EXPECT_EQ(Eval("(define (g) 1) (define (h) (g)) (set! g 5) (h)"), "error: type-error: not a procedure: 5");
  EXPECT_EQ(Eval("(define (g x) x) (define (h) (g)) (h)"), "error: arity-error: g: expected 1 argument, got 0");
  // Named-let procedures are called as known code unless something assigns them.
  EXPECT_EQ(Eval("(let loop ((i 0)) (if (= i 0) (begin (set! loop (lambda (j) 'replaced)) (loop 1)) i))"),
            "replaced");
  EXPECT_EQ(Eval("(let loop ((i 0) (acc '())) (if (= i 3) acc ((lambda () (loop (+ i 1) (cons i acc))))))"),
            "(2 1 0)");
  EXPECT_EQ(Eval("(let outer ((i 0) (acc '())) (if (= i 2) acc"
                 "  (outer (+ i 1) (let inner ((j 0) (a acc)) (if (= j 2) a (inner (+ j 1) (cons (list i j) a)))))))"),
            "((1 1) (1 0) (0 1) (0 0))");
  EXPECT_EQ(Eval("(let loop ((i 0)) (if (< i 2) (loop (+ i 1) 'extra) i))"),
            "error: arity-error: loop: expected 1 argument, got 2");
  // A tail call into a procedure that needs more slots than the caller's activation.
  EXPECT_EQ(Eval("(define (big a) (let ((b (+ a 1))) (let ((c (+ b 1))) (let ((d (+ c 1))) (list a b c d)))))"
                 "(define (small x) (big x)) (small 1)"),
            "(1 2 3 4)");
}

// Inline builtins whose operands are stack variables, immediates or (car v)/(cdr v)
// read their words raw (InlinePrimNode::raw_args); every case outside the fast path
// takes the builtin, and redefinitions still win.
TEST(EvalTest, RawOperandFastPaths) {
  EXPECT_EQ(Eval("(define (f x y) (if (< x y) (- y x) (+ x y 1))) (list (f 1 5) (f 5 1))"), "(4 7)");
  EXPECT_EQ(Eval("(define (f x) (+ x 1)) (f 4611686018427387903)"), "error: overflow: +: fixnum overflow");
  EXPECT_EQ(Eval("(define (f x) (if (< x 2) 'a 'b)) (f \"s\")"),
            "error: type-error: <: expected an integer as argument 1, got \"s\"");
  EXPECT_EQ(Eval("(define (f t) (if (null? (car t)) 'nil 'other)) (list (f '(())) (f '(1)))"), "(nil other)");
  EXPECT_EQ(Eval("(define (f t) (if (null? (car t)) 'nil 'other)) (f 5)"),
            "error: type-error: car: expected a pair as argument 1, got 5");
  EXPECT_EQ(Eval("(define (f t) (if (null? (cdr t)) 'nil 'other)) (define a (f '(1)))"
                 "(define (cdr x) '(1)) (list a (f '(1)))"),
            "(nil other)");
  EXPECT_EQ(Eval("(define (f t) (if (null? t) 'nil 'other)) (define a (f 1)) (define (null? x) #t) (list a (f 1))"),
            "(other nil)");
  EXPECT_EQ(Eval("(define (f a b) (if (eq? a b) 1 2)) (list (f 'a 'a) (f 'a 'b) (f 1 1) (f '() '()))"), "(1 2 1 1)");
  EXPECT_EQ(Eval("(define (f x) (+ x 1 2)) (f 3)"), "6");
  EXPECT_EQ(Eval("(define (f p) (+ (car p) (cdr p))) (f (cons 1 2))"), "3");
  EXPECT_EQ(Eval("(define (f p) (+ (car p) (cdr p))) (f (cons 'a 2))"),
            "error: type-error: +: expected an integer as argument 1, got a");
  EXPECT_EQ(Eval("(define (f x) (list (zero? x) (not x) (pair? x) (- x 7) (>= x 2) (<= x 2) (> x 2) (= x 2)))"
                 "(f 2)"),
            "(#f #f #f -5 #t #t #f #t)");
  EXPECT_EQ(Eval("(define (f x) (if (zero? x) 'z 'nz)) (f 'q)"),
            "error: type-error: zero?: expected an integer as argument 1, got q");
}

TEST(EvalTest, ListsVectorsStrings) {
  EXPECT_EQ(Eval("(list (length '(1 2 3)) (append '(1) '(2 3) '() '(4)) (reverse '(1 2 3)) (list-ref '(a b c) 1))"),
            "(3 (1 2 3 4) (3 2 1) b)");
  EXPECT_EQ(Eval("(map + '(1 2) '(10 20))"), "(11 22)");
  EXPECT_EQ(Eval("(filter odd? '(1 2 3 4 5))"), "(1 3 5)");
  EXPECT_EQ(Eval("(fold-left cons '() '(1 2))"), "((() . 1) . 2)");
  EXPECT_EQ(Eval("(list (memq 'c '(a b c d)) (member \"b\" '(\"a\" \"b\")) (assq 'z '((a 1))))"),
            "((c d) (\"b\") #f)");
  EXPECT_EQ(Eval("(let ((v (make-vector 3 0))) (vector-set! v 1 'x) (list v (vector-length v) (vector->list v)))"),
            "(#(0 x 0) 3 (0 x 0))");
  EXPECT_EQ(Eval("(list (string-append \"ab\" \"c\") (substring \"hello\" 1 3) (string-length \"λx\")"
                 " (string-ref \"λx\" 0) (number->string 255 16) (string->number \"-42\")"
                 " (string->symbol \"s\") (symbol->string 'abc) (string=? \"a\" \"a\") (string<? \"a\" \"b\"))"),
            "(\"abc\" \"el\" 2 #\\λ \"ff\" -42 s \"abc\" #t #t)");
  EXPECT_EQ(Eval("(list (equal? '(1 #(2 \"x\")) (list 1 (vector 2 \"x\"))) (eq? 'a 'a) (eqv? 2 2) (eq? \"a\" \"a\"))"),
            "(#t #t #t #f)");
}

TEST(EvalTest, ErrorsNameTheirCause) {
  EXPECT_EQ(Eval("(undefined-thing 1)"), "error: unbound-variable: unbound variable: undefined-thing");
  EXPECT_EQ(Eval("(car 5)"), "error: type-error: car: expected a pair as argument 1, got 5");
  EXPECT_EQ(Eval("(vector-ref (vector 1 2) 2)"),
            "error: range-error: vector-ref: index 2 out of range for a vector of length 2");
  EXPECT_EQ(Eval("(define (f x) x) (f 1 2)"), "error: arity-error: f: expected 1 argument, got 2");
  EXPECT_EQ(Eval("(5 1)"), "error: type-error: not a procedure: 5");
  EXPECT_EQ(Eval("(error \"bad thing:\" 42 'foo)"), "error: error: bad thing: 42 foo");
  EXPECT_EQ(Eval("(assert (= 1 2))"), "error: assertion-violation: assertion failed: (= 1 2)");
  EXPECT_EQ(Eval("(if)"), "<test>:1:1: bad syntax in if: expected (if test then [else])");
}

TEST(EvalTest, GuardAndHandlers) {
  EXPECT_EQ(Eval("(guard (e (#t (list (error-message e) (error-irritants e)))) (error \"boom\" 1 2))"),
            "(\"boom\" (1 2))");
  EXPECT_EQ(Eval("(guard (e ((symbol? e) (list 'sym e)) ((string? e) 'str)) (raise 'oops))"), "(sym oops)");
  EXPECT_EQ(Eval("(guard (e ((condition? e) (condition-kind e))) (vector-ref (vector) 0))"), "range-error");
  EXPECT_EQ(Eval("(guard (e (#t (condition/report-string e))) (car '()))"),
            "\"car: expected a pair as argument 1, got ()\"");
  // No clause matches: re-raised to the outer guard.
  EXPECT_EQ(Eval("(guard (outer (#t (list 'outer outer))) (guard (inner ((string? inner) 'no)) (raise 7)))"),
            "(outer 7)");
  EXPECT_EQ(Eval("(with-exception-handler (lambda (e) (list 'handled (error-message e)))"
                 "  (lambda () (error \"x\")))"),
            "(handled \"x\")");
  EXPECT_EQ(Eval("(with-exception-handler (lambda (e) 10) (lambda () (+ 1 (raise-continuable 'c))))"), "11");
}

TEST(EvalTest, TailCallsRunInConstantStack) {
  // 64 KiB of managed stack: only proper tail calls survive a million iterations.
  Config small{0, 64 << 10};
  EXPECT_EQ(Eval("(define (loop i) (if (= i 0) 'done (loop (- i 1)))) (loop 1000000)", small), "done");
  EXPECT_EQ(Eval("(let loop ((i 0)) (cond ((= i 1000000) i) (else (loop (+ i 1)))))", small), "1000000");
  EXPECT_EQ(Eval("(define (ev? n) (if (= n 0) #t (od? (- n 1)))) (define (od? n) (if (= n 0) #f (ev? (- n 1))))"
                 "(ev? 1000001)",
                 small),
            "#f");
  EXPECT_EQ(Eval("(do ((i 0 (+ i 1))) ((= i 1000000) 'ok))", small), "ok");
  EXPECT_EQ(Eval("(length (map (lambda (x) x) (iota 100000)))", small), "100000");
}

TEST(EvalTest, StackOverflowIsCaught) {
  Config small{0, 256 << 10};
  EXPECT_EQ(Eval("(define (deep n) (+ 1 (deep n)))"
                 "(guard (e ((eq? (condition-kind e) 'stack-overflow) 'overflowed)) (deep 0))",
                 small),
            "overflowed");
}

TEST(EvalTest, SurvivesCollectionOnEveryFewAllocations) {
  Config stress{7, 1 << 20};
  EXPECT_EQ(Eval("(define (build n) (if (= n 0) '() (cons (vector n (number->string n)) (build (- n 1)))))"
                 "(define l (build 200))"
                 "(collect)"
                 "(list (length l) (vector-ref (car l) 1) (equal? (build 3) (list (vector 3 \"3\") (vector 2 \"2\") "
                 "(vector 1 \"1\"))))",
                 stress),
            "(200 \"200\" #t)");
}

TEST(EvalTest, ThreadsAndChannels) {
  EXPECT_EQ(Eval("(define ch (make-channel 2))"
                 "(define t (spawn (lambda () (send ch 1) (send ch 2) (close ch) 'sent) \"producer\"))"
                 "(define a (recv ch)) (define b (recv ch)) (define c (recv ch))"
                 "(list a b (eof-object? c) (join t))"),
            "(1 2 #t sent)");
  EXPECT_EQ(Eval("(define t (spawn (lambda () (error \"in thread\" 3))))"
                 "(guard (e (#t (error-message e))) (join t))"),
            "\"in thread\"");
  EXPECT_EQ(Eval("(define m (make-mutex)) (define n 0) (define wg (make-wait-group))"
                 "(wait-group-add wg 10)"
                 "(do ((i 0 (+ i 1))) ((= i 10))"
                 "  (spawn (lambda () (do ((j 0 (+ j 1))) ((= j 100)) (with-mutex m (set! n (+ n 1))))"
                 "                    (wait-group-done wg))))"
                 "(wait-group-wait wg) n"),
            "1000");
  EXPECT_EQ(Eval("(define ch (make-channel))"
                 "(select ((recv ch) => (lambda (v) v)) ((timeout 10) => (lambda () 'timed-out)))"),
            "timed-out");
}

TEST(EvalTest, MoreThanEightSlots) {
  // Regression (lisp_fuzzer): an activation with more than 8 slots wrote past its
  // inline slot array.
  EXPECT_EQ(Eval("(define (f a b c d e f2 g h i) (list a e i)) (f 1 2 3 4 5 6 7 8 9)"), "(1 5 9)");
  EXPECT_EQ(Eval("(let ((a 1) (b 2) (c 3) (d 4) (e 5) (f 6) (g 7) (h 8) (i 9) (j 10)) (list a j))"), "(1 10)");
  EXPECT_EQ(Eval("(list (let ((h 0)) h) (guard (i) 1) (guard (j) 2) (guard (k) 3) (guard (l) 4) (guard (m) 5)"
                 " (guard (n) 6) (guard (o) 7) (guard (p) 8))"),
            "(0 1 2 3 4 5 6 7 8)");
}

TEST(EvalTest, DeepDataInAThreadIsAStackOverflowError) {
  // Regression (lisp_fuzzer): equal? and the printer recursed past a spawned thread's
  // 256 KiB native stack on data nested 2000 deep (built at run time, so the reader's
  // nesting limit does not apply).
  const std::string deep = "(define (nest n acc) (if (= n 0) acc (nest (- n 1) (list acc))))"
                           "(define x (nest 2000 '())) (define y (nest 2000 '()))";
  EXPECT_EQ(Eval(deep + "(guard (e (#t (condition-kind e))) (join (spawn (lambda () (equal? x y)))))"),
            "stack-overflow");
  EXPECT_EQ(Eval(deep + "(guard (e (#t (condition-kind e))) (join (spawn (lambda () (write x)))))"),
            "stack-overflow");
  EXPECT_EQ(Eval(deep + "(equal? x y)"), "#t");  // main's 8 MiB stack holds it
  // Messages print deep data only 100 levels deep: naming x in an error or a failed
  // check overflowed the thread's native stack (a process abort) before.
  EXPECT_EQ(Eval(deep + "(guard (e (#t (substring (condition/report-string e) 0 16))) "
                        "(join (spawn (lambda () (x 1)))))"),
            "\"not a procedure:\"");
  EXPECT_EQ(Eval(deep + "(guard (e (#t (condition-kind e))) (join (spawn (lambda () (car (cdr x))))))"),
            "type-error");
}

TEST(EvalTest, FatalMisusesAreErrors) {
  // Regression (lisp_fuzzer): the runtime's fatal checks ended the process.
  EXPECT_EQ(Eval("(define wg (make-wait-group)) (wait-group-done wg)"),
            "error: wait-group-error: wait-group: the count would go below zero");
  EXPECT_EQ(Eval("(define wg (make-wait-group)) (wait-group-add wg 2) (wait-group-add wg -3)"),
            "error: wait-group-error: wait-group: the count would go below zero");
  EXPECT_EQ(Eval("(define wg (make-wait-group)) (wait-group-add wg 4611686018427387903) (wait-group-add wg 1)"),
            "error: wait-group-error: wait-group: the count would overflow");
  EXPECT_EQ(Eval("(define wg (make-wait-group)) (wait-group-add wg 2) (wait-group-done wg) (wait-group-add wg -1)"
                 "(wait-group-wait wg) 'ok"),
            "ok");
  EXPECT_EQ(Eval("(define ch (make-channel 1)) (close ch) (close ch)"),
            "error: channel-error: close: the channel is already closed");
  EXPECT_EQ(Eval("(define ch (make-channel 1)) (send ch 1) (close ch) (list (recv ch) (eof-object? (recv ch)))"),
            "(1 #t)");
  // A debug check aborted the checked build; the default build ignored it.
  EXPECT_EQ(Eval("(define m (make-mutex)) (mutex-unlock! m)"),
            "error: mutex-error: mutex-unlock!: the mutex is not locked");
  // with-mutex whose body unlocks the mutex: its own unlock is refused. It ran in a
  // destructor, and a throwing destructor ended the process (review of 8bc36f2).
  EXPECT_EQ(Eval("(define m (make-mutex)) (with-mutex m (mutex-unlock! m) 1)"),
            "error: mutex-error: with-mutex: the mutex was unlocked inside its body");
  EXPECT_EQ(Eval("(define m (make-mutex)) (guard (e (#t 'caught)) (with-mutex m (mutex-unlock! m) (error \"boom\")))"),
            "caught");
  EXPECT_EQ(Eval("(define m (make-mutex)) (guard (e (#t 'caught)) (with-mutex m (error \"boom\")))"
                 "(with-mutex m 'relocked)"),
            "relocked");
  EXPECT_EQ(Eval("(define m (make-mutex)) (mutex-lock! m) (mutex-unlock! m) (mutex-unlock! m)"),
            "error: mutex-error: mutex-unlock!: the mutex is not locked");
  EXPECT_EQ(Eval("(define m (make-mutex)) (mutex-lock! m) (mutex-unlock! m) (mutex-lock! m) 'relocked"),
            "relocked");
}

TEST(EvalTest, StepLimitEndsLoopsAndListWalks) {
  Config limited;
  limited.max_steps = 1000;
  const std::string exceeded = "error: step-limit: step limit exceeded (1000 steps)";
  EXPECT_EQ(Eval("(define (spin) (spin)) (spin)", limited), exceeded);
  EXPECT_EQ(Eval("(let loop ((i 0)) (loop (+ i 1)))", limited), exceeded);
  EXPECT_EQ(Eval("(do ((i 0 (+ i 1))) (#f))", limited), exceeded);
  // Within the budget nothing changes.
  EXPECT_EQ(Eval("(do ((i 0 (+ i 1))) ((= i 900) i))", limited), "900");
  // Catchable, but every further step raises again: the handler cannot loop on.
  EXPECT_EQ(Eval("(guard (e (#t (condition-kind e))) (let loop () (loop)))", limited), "step-limit");
  EXPECT_EQ(Eval("(define (f) (guard (e (#t (f))) (f))) (f)", limited), exceeded);
  // Builtins walking a circular list count its elements.
  const std::string circ = "(define c (list 1 2)) (set-cdr! (cdr c) c) ";
  EXPECT_EQ(Eval(circ + "(length c)", limited), exceeded);
  EXPECT_EQ(Eval(circ + "(for-each abs c)", limited), exceeded);
  EXPECT_EQ(Eval(circ + "(memq 'z c)", limited), exceeded);
  EXPECT_EQ(Eval(circ + "(list-ref c 4611686018427387903)", limited), exceeded);
  EXPECT_EQ(Eval(circ + "(apply + c)", limited), exceeded);
  EXPECT_EQ(Eval("(define s (list #\\a #\\b)) (set-cdr! (cdr s) s) (list->string s)", limited), exceeded);
  EXPECT_EQ(Eval(circ + "(define d (list 1 2)) (set-cdr! (cdr d) d) (equal? c d)", limited), exceeded);
  // Builtins building a list from a count count its elements (a huge count would
  // otherwise run until the heap limit: under GC stress, for minutes).
  EXPECT_EQ(Eval("(begin (make-list 1114111 0) 'made)", limited), exceeded);
  EXPECT_EQ(Eval("(begin (iota 4611686018427387903) 'made)", limited), exceeded);
  EXPECT_EQ(Eval("(begin (vector->list (make-vector 5000 0)) 'made)", limited), exceeded);
  EXPECT_EQ(Eval("(begin (string->list \"" + std::string(1500, 'a') + "\") 'made)", limited),
            exceeded);
  EXPECT_EQ(Eval("(length (make-list 400 0))", limited), "400");  // 400 made, 400 walked
  // Each green thread has its own budget.
  EXPECT_EQ(Eval("(define (spin) (spin)) (guard (e (#t (condition-kind e))) (join (spawn spin)))", limited),
            "step-limit");
}

TEST(EvalTest, ThreadAndSleepLimits) {
  Config limited;
  limited.max_threads = 2;
  limited.max_sleep_ms = 20;
  EXPECT_EQ(Eval("(list (join (spawn (lambda () 1))) (join (spawn (lambda () 2))))", limited), "(1 2)");
  EXPECT_EQ(Eval("(join (spawn (lambda () 1))) (join (spawn (lambda () 2))) (spawn (lambda () 3))", limited),
            "error: thread-limit: thread limit exceeded (2 spawns)");
  // Joined threads whose records died give their entries back ([lisp.native-tables]);
  // the limit still counts every spawn.
  EXPECT_EQ(Eval("(define (loop n) (if (> n 0) (begin (join (spawn (lambda () n))) (collect) "
                 "(loop (- n 1))))) (loop 5)",
                 limited),
            "error: thread-limit: thread limit exceeded (2 spawns)");
  EXPECT_EQ(Eval("(sleep 10) (sleep 10) 'slept", limited), "slept");
  EXPECT_EQ(Eval("(sleep 10) (sleep 11)", limited), "error: sleep-limit: sleep limit exceeded (20 ms in all)");
  EXPECT_EQ(Eval("(sleep 4611686018427387903)", limited), "error: sleep-limit: sleep limit exceeded (20 ms in all)");
  EXPECT_EQ(Eval("(select ((timeout 100000) => (lambda () 'late)))", limited),
            "error: sleep-limit: sleep limit exceeded (20 ms in all)");
}

TEST(EvalTest, CircularDataPrintsInBoundedSpace) {
  // Without the printer's limit these would print until memory ran out.
  std::string circ = Eval("(define c (list 1 2)) (set-cdr! (cdr c) c) c");
  EXPECT_GT(circ.size(), size_t{1} << 20);
  EXPECT_LT(circ.size(), (size_t{1} << 20) + 64);
  EXPECT_EQ(circ.substr(0, 8), "(1 2 1 2");
  EXPECT_EQ(circ.substr(circ.size() - 4), "...)");
  // Shared structure doubles at each level: 2^1000 elements without the limit.
  std::string shared = Eval("(define (grow n x) (if (= n 0) x (grow (- n 1) (list x x)))) (grow 900 1)");
  EXPECT_LT(shared.size(), (size_t{1} << 20) + (16 << 10));  // plus " ...)" per open level
  // A type error shows at most 80 characters of the value.
  EXPECT_EQ(Eval("(define c (list 1 2)) (set-cdr! (cdr c) c) (vector-ref c 0)"),
            "error: type-error: vector-ref: expected a vector as argument 1, got "
            "(1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 ...");
}

// [lisp.image.fixups]: where this process already has a symbol record for a name the
// image saved (here made by evaluating 'alpha before the load), every loaded reference
// to the saved one is redirected to it, so eq? holds across the image boundary.
TEST(EvalImageTest, ASymbolThisProcessAlreadyHasStaysEq) {
  const std::string path = ::testing::TempDir() + "symbols.img";
  Options o;
  o.workers = 2;
  o.control_socket = false;
  {
    auto rt = Runtime::Create(o);
    ASSERT_TRUE(rt.ok()) << rt.status();
    auto status = (*rt)->Run([&] {
      Interp in("save");
      EXPECT_EQ(in.RunText("(define s 'alpha) (define l (list 'alpha 'beta s)) (define (f) 'alpha)",
                           "prelude.wl"),
                0);
      EXPECT_EQ(in.SaveImage(path), 0);
      in.FinishThreads();
      return 0;
    });
    ASSERT_TRUE(status.ok()) << status.status();
  }
  auto rt = Runtime::Create(o);
  ASSERT_TRUE(rt.ok()) << rt.status();
  std::string out;
  auto status = (*rt)->Run([&] {
    Interp in("load");
    EXPECT_EQ(in.EvalToString("'alpha"), "alpha");  // this process's alpha record
    EXPECT_EQ(in.LoadImage(path), 0);
    out = in.EvalToString(
        "(collect) (list (eq? s 'alpha) (eq? (car l) s) (eq? (caddr l) 'alpha) (eq? (f) 'alpha) "
        "(eq? (cadr l) 'beta) (eq? (string->symbol \"alpha\") s))");
    in.FinishThreads();
    return 0;
  });
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(out, "(#t #t #t #t #t #t)");
}

}  // namespace
}  // namespace weft::lisp
