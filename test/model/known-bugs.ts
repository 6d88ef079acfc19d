/**
 * Bugs the model test found that are not fixed yet. Random runs step around
 * each one listed here (so they can still find others), and the named
 * regression test for it (regressions.test.ts) runs as a tap `todo`. When a
 * bug is fixed, delete its entry: the regression test then must pass and
 * the random runs go back to exercising that case.
 */
export const KNOWN_BUGS: Readonly<Record<string, string>> = {
};

export const isOpenBug = (name: string): boolean => Object.hasOwn(KNOWN_BUGS, name);
