//! The effect loop on its own: what a driver polls out of a `Board`, and how a key port
//! that changes out of the driver's sight is noticed.

mod common;

use common::NOW;
use ped_firmware::board::{Output, PortChange};
use ped_firmware::hal::{InsertedKey, MemoryKeys};
use ped_firmware::io::Event;
use ped_firmware::{Board, Ped, PedConfig};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn board() -> (Board<MemoryKeys>, ChaCha20Rng) {
    let hsm = common::TestHsm::new("HSM-150001");
    let config = PedConfig::new("PED-0001", "2.9.0-1", hsm.root());
    (Board::new(Ped::new(config), MemoryKeys::new()), ChaCha20Rng::seed_from_u64(3))
}

fn drawn(board: &mut Board<MemoryKeys>) -> Vec<Vec<String>> {
    std::iter::from_fn(|| board.poll_output())
        .map(|output| match output {
            Output::Draw(screen) => screen.text_lines().into_iter().map(String::from).collect(),
            Output::SendFrame(frame) => panic!("a frame nobody asked for: {frame:?}"),
        })
        .collect()
}

#[test]
fn the_screens_wait_for_the_driver_in_order() {
    let (mut board, mut rng) = board();
    board.handle(Event::PowerOn, &mut rng);
    board.handle(Event::Tick { monotonic_ms: 0, unix_seconds: NOW }, &mut rng);
    assert_eq!(drawn(&mut board), [board.ped().screen().text_lines()]);
    assert_eq!(board.poll_output(), None, "each output is polled once");
    assert_eq!(board.poll_timeout(), board.ped().poll_timeout());
}

#[test]
fn a_key_changed_out_of_sight_is_told_to_the_core_once() {
    let (mut board, mut rng) = board();
    board.handle(Event::PowerOn, &mut rng);
    let first = board.port_mut().add(None);
    let second = board.port_mut().add(None);
    assert_eq!(board.look_at_port(), None, "an empty port, as the core was told");

    let key = board.port_mut().insert(first);
    assert_eq!(board.look_at_port(), Some(PortChange { removed: false, inserted: Some(key) }));
    feed(&mut board, &mut rng);
    assert_eq!(board.told_key(), Some(key.serial));
    assert_eq!(board.look_at_port(), None);

    // Swapped between two looks: out, then in.
    let other = board.port_mut().insert(second);
    let change = board.look_at_port().unwrap();
    assert_eq!(change.events().collect::<Vec<_>>(), [Event::KeyRemoved, Event::KeyInserted(other)]);
    feed(&mut board, &mut rng);
    assert_eq!(board.told_key(), Some(other.serial));

    board.port_mut().remove();
    assert_eq!(board.look_at_port(), Some(PortChange { removed: true, inserted: None }));
    feed(&mut board, &mut rng);
    assert_eq!((board.told_key(), board.look_at_port()), (None, None));

    // An event the driver feeds itself counts as told too.
    let key = board.port_mut().insert(first);
    board.handle(Event::KeyInserted(InsertedKey { serial: key.serial, capacity: key.capacity }), &mut rng);
    assert_eq!(board.look_at_port(), None);
}

fn feed(board: &mut Board<MemoryKeys>, rng: &mut ChaCha20Rng) {
    let change = board.look_at_port().expect("a change");
    change.events().for_each(|event| board.handle(event, rng));
}
