// The console's entry: picks the page from the address.
import { devicesPage } from './devices.js';
import { devicePage } from './device.js';

const main = document.getElementById('main');
const path = location.pathname;
const match = path.match(/^\/devices\/(.+)$/);
if (match) {
  devicePage(main, decodeURIComponent(match[1]));
} else {
  devicesPage(main);
}
