// Preloaded (`--expose-gc --require`) into every benchmarked server alike: on SIGUSR2 it runs a
// full garbage collection and prints GC_DONE, so RSS is read with garbage collected in every
// server instead of wherever each one's GC happened to be.
process.on('SIGUSR2', () => {
  global.gc();
  process.stdout.write('GC_DONE\n');
});
