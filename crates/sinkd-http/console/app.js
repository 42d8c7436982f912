// The console's entry: picks the page from the address.
import { devicesPage } from './devices.js';
import { devicePage } from './device.js';

const main = document.getElementById('main');
const path = location.pathname;
const match = path.match(/^\/devices\/(.+)$/);
// An address that does not decode (a stray `%`) shows the devices page.
let device = null;
if (match) {
  try {
    device = decodeURIComponent(match[1]);
  } catch {
    device = null;
  }
}
if (device !== null) {
  devicePage(main, device);
} else {
  devicesPage(main);
}
