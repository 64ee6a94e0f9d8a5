package com.example.shop.user;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class UserControllerTest {

    private final UserRepository users = mock(UserRepository.class);
    private final UserEvents events = mock(UserEvents.class);
    private final UserController controller = new UserController(users, events);

    @Test
    void createRejectsBlankEmail() {
        var response = controller.create(new UserController.NewUser(" ", "Ann"));
        assertThat(response.getStatusCode().value()).isEqualTo(400);
    }

    @Test
    void createSavesAndPublishes() {
        when(users.findByEmail("ann@example.com")).thenReturn(Optional.empty());
        when(users.save(any(User.class))).thenAnswer(inv -> inv.getArgument(0));

        var response = controller.create(new UserController.NewUser("ann@example.com", "Ann"));

        assertThat(response.getStatusCode().value()).isEqualTo(201);
        verify(events).userCreated(any(User.class));
    }
}
