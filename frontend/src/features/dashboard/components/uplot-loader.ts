// uPlot is loaded on demand (its own chunk, with its stylesheet), never at start-up: it reads
// window.matchMedia as soon as it is imported, which jsdom (the tests) does not have.
export async function loadUplot() {
  const [module] = await Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]);
  return module.default;
}
